from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "kluis.sites"
    label = "sites"
    verbose_name = "Sites"

    def ready(self) -> None:
        from kluis.rights.records import register_record_finder
        from kluis.sites.records import sites_records

        register_record_finder(sites_records)
