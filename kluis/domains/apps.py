from django.apps import AppConfig


class DomainsConfig(AppConfig):
    name = "kluis.domains"
    label = "domains"
    verbose_name = "Domeinnamen"

    def ready(self) -> None:
        from kluis.domains.shop_link import connect

        connect()
