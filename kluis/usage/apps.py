from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "kluis.usage"
    label = "usage"
    verbose_name = "Usage statistics"

    def ready(self) -> None:
        from kluis.rights.records import register_record_finder
        from kluis.usage import jobs, retention  # noqa: F401  (registers the job and the sweep)
        from kluis.usage.records import usage_records

        register_record_finder(usage_records)
