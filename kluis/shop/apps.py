from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "kluis.shop"
    label = "shop"
    verbose_name = "Shop"
