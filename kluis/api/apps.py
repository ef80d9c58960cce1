from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "kluis.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from kluis.api import retention  # noqa: F401  (registers the tokens' dated holding)
        from kluis.api.records import api_records
        from kluis.rights.records import register_record_finder

        register_record_finder(api_records)
