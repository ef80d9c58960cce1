from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "kluis.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from kluis.billing.dunning import dunning_invoice_paid, dunning_invoices_paid
        from kluis.billing.erasure import open_invoices
        from kluis.billing.orders import order_moved, order_paid, orders_paid
        from kluis.billing.records import billing_records
        from kluis.billing.settlement import register_paid_handler
        from kluis.billing.vat import consumer_vat_for
        from kluis.billing.withdrawals import subscriptions_shortened
        from kluis.rights.erasure import register_erasure_blocker
        from kluis.rights.records import register_record_finder
        from kluis.shop.moves import register_move_handler, register_shortened_handler
        from kluis.shop.prices import register_vat_for

        register_erasure_blocker(open_invoices)
        register_move_handler(order_moved)
        register_shortened_handler(subscriptions_shortened)
        register_vat_for(consumer_vat_for)
        register_paid_handler(order_paid, many=orders_paid)
        register_paid_handler(dunning_invoice_paid, many=dunning_invoices_paid)
        register_record_finder(billing_records)
