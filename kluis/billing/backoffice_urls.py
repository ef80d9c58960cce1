from django.urls import path

from kluis.billing import backoffice_views

app_name = "billing_backoffice"
urlpatterns = [
    path("afschriften/", backoffice_views.statements, name="statements"),
    path(
        "betalingen/<uuid:payment_id>/koppelen/",
        backoffice_views.payment_link,
        name="payment-link",
    ),
    path("terugbetalingen/", backoffice_views.refunds, name="refunds"),
    path(
        "terugbetalingen/<int:refund_id>/besluit/",
        backoffice_views.refund_decide,
        name="refund-decide",
    ),
    path("terugbetalingen/betaalbestand/", backoffice_views.refunds_export, name="refunds-export"),
]
