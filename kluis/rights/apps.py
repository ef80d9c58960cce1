from django.apps import AppConfig


class RightsConfig(AppConfig):
    name = "kluis.rights"
    label = "rights"
    verbose_name = "Rights"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kluis.rights import limits  # noqa: F401 (registers the reveal guard)
