from django.apps import AppConfig


class DomainsConfig(AppConfig):
    name = "kluis.domains"
    label = "domains"
    verbose_name = "Domeinnamen"

    def ready(self) -> None:
        from kluis.domains import renewals, shop_link

        shop_link.connect()
        renewals.connect()
