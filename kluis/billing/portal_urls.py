from django.urls import path

from kluis.billing import dunning_views, portal_views

app_name = "billing_portal"
urlpatterns = [
    path("", portal_views.invoices, name="invoices"),
    path("<uuid:invoice_id>/pdf/", portal_views.invoice_pdf_download, name="invoice-pdf"),
    path("herinneringen/<int:reminder_id>/pdf/", dunning_views.reminder_pdf, name="reminder-pdf"),
]
