from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "kluis.sites"
    label = "sites"
    verbose_name = "Sites"
