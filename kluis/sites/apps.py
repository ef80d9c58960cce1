from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "kluis.sites"
    label = "sites"
    verbose_name = "Sites"

    def ready(self) -> None:
        from kluis.rights.records import register_record_finder
        from kluis.sites.records import sites_records

        register_record_finder(sites_records)

        from django.db.models.signals import post_delete, post_save

        from kluis.sites.firewall import firewall_changed
        from kluis.sites.models import AllowEntry, HostingNode, Site

        # A node's switch-over changes which sites the top directory (and a token bound
        # to no node) holds.
        for model in (Site, AllowEntry, HostingNode):
            post_save.connect(firewall_changed, sender=model, dispatch_uid=f"fw-{model.__name__}")
            post_delete.connect(
                firewall_changed, sender=model, dispatch_uid=f"fw-del-{model.__name__}"
            )

        # Registers the help requests' retention trigger (each request's own key).
        from kluis.sites import retention  # noqa: F401
