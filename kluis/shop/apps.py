from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "kluis.shop"
    label = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from kluis.rights.erasure import register_erasure_blocker
        from kluis.rights.records import register_record_finder
        from kluis.shop.erasure import running_orders, running_subscriptions
        from kluis.shop.records import shop_records

        register_erasure_blocker(running_orders)
        register_erasure_blocker(running_subscriptions)
        register_record_finder(shop_records)
