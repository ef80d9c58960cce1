from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "kluis.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from kluis.billing.erasure import open_invoices
        from kluis.rights.erasure import register_erasure_blocker

        register_erasure_blocker(open_invoices)
