from django.apps import AppConfig


class RightsConfig(AppConfig):
    name = "kluis.rights"
    label = "rights"
    verbose_name = "Rights"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kluis.rights import limits  # noqa: F401 (registers the reveal guard)
        from kluis.rights.linked import contacts_by_address, register_address_finder

        register_address_finder(contacts_by_address)
