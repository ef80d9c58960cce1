from django.urls import path

from kluis.billing import portal_views

app_name = "billing_portal"
urlpatterns = [
    path("", portal_views.invoices, name="invoices"),
    path("<uuid:invoice_id>/pdf/", portal_views.invoice_pdf_download, name="invoice-pdf"),
]
