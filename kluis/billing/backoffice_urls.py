from django.urls import path

from kluis.billing import backoffice_views, dunning_views

app_name = "billing_backoffice"
urlpatterns = [
    path("", backoffice_views.overview, name="overview"),
    path("<uuid:invoice_id>/pdf/", backoffice_views.invoice_pdf_download, name="invoice-pdf"),
    path("afschriften/", backoffice_views.statements, name="statements"),
    path(
        "betalingen/<uuid:payment_id>/koppelen/",
        backoffice_views.payment_link,
        name="payment-link",
    ),
    path(
        "betalingen/<uuid:payment_id>/toewijzen/",
        backoffice_views.payment_assign,
        name="payment-assign",
    ),
    path("terugbetalingen/", backoffice_views.refunds, name="refunds"),
    path(
        "terugbetalingen/<int:refund_id>/besluit/",
        backoffice_views.refund_decide,
        name="refund-decide",
    ),
    path(
        "terugbetalingen/<int:refund_id>/rekening/",
        backoffice_views.refund_payee,
        name="refund-payee",
    ),
    path(
        "terugbetalingen/<int:refund_id>/afwijzen/",
        backoffice_views.refund_reject,
        name="refund-reject",
    ),
    path("terugbetalingen/betaalbestand/", backoffice_views.refunds_export, name="refunds-export"),
    path(
        "terugbetalingen/betaalbestand/<int:export_id>/",
        backoffice_views.refunds_export_again,
        name="refunds-export-again",
    ),
    # reminders and collections (kluis/billing/dunning.py)
    path("herinneringen/", dunning_views.collections, name="collections"),
    path(
        "herinneringen/<uuid:invoice_id>/overdragen/",
        dunning_views.collections_propose,
        name="collections-propose",
    ),
    path(
        "incasso/<int:handover_id>/besluit/",
        dunning_views.collections_decide,
        name="collections-decide",
    ),
    path(
        "incasso/<int:handover_id>/gemeld/", dunning_views.collections_told, name="collections-told"
    ),
    path("incasso/<int:handover_id>/csv/", dunning_views.collections_csv, name="collections-csv"),
    path("incasso/<int:handover_id>/pdf/", dunning_views.collections_pdf, name="collections-pdf"),
]
