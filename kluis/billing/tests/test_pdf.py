"""The invoice PDF: every field of art. 35a Wet OB, in Dutch and in English."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from kluis.billing import services
from kluis.billing.pdf import invoice_pdf
from kluis.billing.tests.helpers import order_for
from kluis.formats import long_date

pytestmark = pytest.mark.django_db(databases="__all__")


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_dutch_invoice_shows_every_required_field(personas, settings):
    settings.KLUIS_KVK_NUMBER = "12345678"
    settings.KLUIS_VAT_NUMBER = "NL000099998B57"
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    text = _text(invoice_pdf(invoice, services.BILLING))
    for expected in [
        "Factuur",
        invoice.number,
        long_date(invoice.issue_date, "nl"),
        "Leverdatum",
        "KvK-nummer: 12345678",
        "Btw-nummer: NL000099998B57",
        "SinnerG B.V.",
        "Keurenplein 41",
        "Alice de Vries",
        "Lindengracht 12",
        "1015 KK Amsterdam",
        "voorbeeld.nl",
        "Totaal excl. btw",
        "Btw 21 %",
        invoice.payment_reference,
    ]:
        assert expected in text, expected
    assert "verlegd" not in text


def test_a_reverse_charged_invoice_says_btw_verlegd_and_the_customers_vat_number(personas):
    order = order_for(personas.customer_a, country="BE", vies="valid", kind="organisation")
    invoice = services.invoice_issue(order=order, issued_by=None)
    text = _text(invoice_pdf(invoice, services.BILLING))
    assert "Btw verlegd" in text
    assert "BE0403019261" in text
    assert "Voorbeeld BV" in text


def test_an_english_invoice_is_in_english(personas):
    order = order_for(personas.customer_a, language="en")
    invoice = services.invoice_issue(order=order, issued_by=None)
    text = _text(invoice_pdf(invoice, services.BILLING))
    assert "Invoice" in text
    assert "Payment reference" in text
    assert "Chamber of Commerce number" in text


def test_the_pdf_is_deterministic_and_escapes_what_the_customer_typed(personas):
    customer = personas.customer_a
    customer.name = "<b>Alice</b> & {{ x }}"
    customer.save(update_fields=["name", "name_index"])
    invoice = services.invoice_issue(order=order_for(customer), issued_by=None)
    first = invoice_pdf(invoice, services.BILLING)
    assert first == invoice_pdf(invoice, services.BILLING)
    assert "<b>Alice</b> & {{ x }}" in _text(first)
