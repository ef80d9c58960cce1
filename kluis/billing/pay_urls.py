from django.urls import path

from kluis.billing import pay_views

app_name = "billing_pay"
urlpatterns = [
    path("mollie/webhook/", pay_views.webhook, name="webhook"),
    path("<str:token>/", pay_views.invoice, name="invoice"),
    path("<str:token>/terug/", pay_views.returned, name="returned"),
]
