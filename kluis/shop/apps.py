from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "kluis.shop"
    label = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from kluis.rights.erasure import register_erasure_blocker
        from kluis.shop.erasure import running_orders, running_subscriptions

        register_erasure_blocker(running_orders)
        register_erasure_blocker(running_subscriptions)
