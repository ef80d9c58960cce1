"""The customer's invoices in the portal: only their own, each as a PDF."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.billing import services
from kluis.billing.tests.helpers import order_for
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_customer_sees_their_invoices_and_downloads_the_pdf(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    credit = services.credit_note_issue(invoice=invoice, issued_by=personas.staff["finance"])
    log_in(client, personas.alice)
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert invoice.number in page and invoice.payment_reference in page
    assert credit.number in page and "-€" in page
    response = client.get(reverse("billing_portal:invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_another_customer_gets_404_for_the_pdf(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    log_in(client, personas.bob)
    assert invoice.number not in client.get(reverse("billing_portal:invoices")).content.decode()
    response = client.get(reverse("billing_portal:invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 404
