"""Issuing invoices: VAT rules, sealed billing data, immutability, credit notes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from kluis.audit.models import AuditEntry
from kluis.billing import services
from kluis.billing.models import Invoice, InvoiceImmutable, InvoiceLine, VatRate
from kluis.billing.reference import is_valid
from kluis.billing.tests.helpers import order_for
from kluis.billing.vat import VatError, rate_on, vat_amount
from kluis.vault.errors import RevealRefused

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_dutch_consumer_pays_21_percent(personas):
    order = order_for(personas.customer_a, country="NL")
    invoice = services.invoice_issue(order=order, issued_by=None)
    assert invoice.vat_scheme == Invoice.VatScheme.DUTCH
    assert invoice.vat_rate_bp == 2100
    assert invoice.net_cents == order.total_cents
    assert invoice.vat_cents == vat_amount(order.total_cents, 2100)
    assert invoice.total_cents == invoice.net_cents + invoice.vat_cents
    assert [line.net_cents for line in invoice.lines.all()] == [
        line.price_cents for line in order.lines.all()
    ]
    assert is_valid(invoice.payment_reference)
    assert invoice.number == f"F{invoice.issue_date.year}-000001"
    assert invoice.due_date == invoice.issue_date + dt.timedelta(days=14)


def test_a_vies_validated_eu_business_gets_reverse_charge_with_evidence(personas):
    order = order_for(personas.customer_a, country="BE", vies="valid", kind="organisation")
    invoice = services.invoice_issue(order=order, issued_by=None)
    assert invoice.vat_scheme == Invoice.VatScheme.REVERSE_CHARGE
    assert invoice.reverse_charged
    assert invoice.vat_cents == 0
    assert invoice.vat_check is not None
    assert invoice.vat_check.request_identifier == "WAPIAAAAW1234567"
    assert (
        invoice.billing_vat_number.reveal(purpose="invoicing", actor=services.BILLING)
        == "BE0403019261"
    )


@pytest.mark.parametrize("vies", ["invalid", "unavailable"])
def test_an_eu_business_without_a_valid_vies_answer_is_a_consumer(personas, settings, vies):
    settings.KLUIS_OSS_ABOVE_THRESHOLD = False
    order = order_for(personas.customer_a, country="BE", vies=vies, kind="organisation")
    if vies == "unavailable":
        with pytest.raises(services.BillingError) as refused:
            services.invoice_issue(order=order, issued_by=None)
        assert refused.value.code == "waits_for_vies"
        return
    invoice = services.invoice_issue(order=order, issued_by=None)
    assert invoice.vat_scheme == Invoice.VatScheme.DUTCH
    assert invoice.vat_rate_bp == 2100
    assert invoice.billing_vat_number is None


def test_eu_consumers_pay_dutch_vat_below_the_oss_threshold(personas, settings):
    settings.KLUIS_OSS_ABOVE_THRESHOLD = False
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a, country="DE"), issued_by=None
    )
    assert (invoice.vat_scheme, invoice.vat_country, invoice.vat_rate_bp) == ("nl", "NL", 2100)


def test_eu_consumers_pay_their_own_rate_above_the_oss_threshold(personas, settings):
    settings.KLUIS_OSS_ABOVE_THRESHOLD = True
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a, country="DE"), issued_by=None
    )
    assert (invoice.vat_scheme, invoice.vat_country, invoice.vat_rate_bp) == ("oss", "DE", 1900)


def test_outside_the_eu_there_is_no_dutch_vat(personas, settings):
    settings.KLUIS_OSS_ABOVE_THRESHOLD = True
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a, country="CH"), issued_by=None
    )
    assert (invoice.vat_scheme, invoice.vat_rate_bp, invoice.vat_cents) == ("outside_eu", 0, 0)


def test_rates_follow_their_valid_from_and_valid_until(personas):
    assert rate_on("EE", dt.date(2025, 6, 30)) == 2200
    assert rate_on("EE", dt.date(2025, 7, 1)) == 2400
    VatRate.objects.filter(country="NL").update(valid_until=dt.date(2030, 12, 31))
    VatRate.objects.create(country="NL", rate_bp=2200, valid_from=dt.date(2031, 1, 1))
    assert rate_on("NL", dt.date(2030, 12, 31)) == 2100
    assert rate_on("NL", dt.date(2031, 1, 1)) == 2200
    with pytest.raises(VatError):
        rate_on("NL", dt.date(2023, 12, 31))


def test_vat_rounds_half_away_from_zero():
    assert vat_amount(250, 2100) == 53  # 52.5
    assert vat_amount(-250, 2100) == -53
    assert vat_amount(1995, 2100) == 419  # 418.95


def test_billing_data_is_copied_and_sealed_in_the_fiscal_year_of_the_issue_date(personas):
    order = order_for(personas.customer_a, kind="organisation")
    invoice = services.invoice_issue(order=order, issued_by=None, issue_date=dt.date(2026, 3, 1))
    assert invoice.vault_period("fiscal") == "2026"
    scope = invoice.billing_name.scope
    assert (scope.retention_class, scope.period) == ("fiscal", "2026")
    with connection.cursor() as cursor:
        cursor.execute("SELECT billing_name FROM billing_invoice")
        (raw,) = cursor.fetchone()
    assert b"Alice" not in bytes(raw)
    reveal = {"purpose": "invoicing", "actor": services.BILLING}
    assert invoice.billing_name.reveal(**reveal) == "Alice de Vries"
    assert invoice.billing_company.reveal(**reveal) == "Voorbeeld BV"
    assert invoice.billing_city.reveal(**reveal) == "Amsterdam"
    # The customer changes their address later: the invoice keeps the old one.
    customer = personas.customer_a
    customer.address_city = "Utrecht"
    customer.save(update_fields=["address_city"])
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.billing_city.reveal(**reveal) == "Amsterdam"


def test_the_billing_name_does_not_open_for_marketing_purposes(personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    with pytest.raises(RevealRefused):
        invoice.billing_name.reveal(purpose="marketing", actor=services.BILLING)


def test_issuing_is_idempotent_per_order_and_audited(personas):
    order = order_for(personas.customer_a)
    first = services.invoice_issue(order=order, issued_by=personas.staff["finance"])
    again = services.invoice_issue(order=order, issued_by=personas.staff["finance"])
    assert first.pk == again.pk
    assert Invoice.objects.count() == 1
    entry = AuditEntry.objects.get(action="billing.invoice_issued")
    assert first.number in entry.payload
    assert entry.actor == personas.staff["finance"].actor().ref


def test_numbers_are_sequential_per_series(personas):
    numbers = [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None).sequence
        for _ in range(3)
    ]
    assert numbers == [1, 2, 3]


def test_an_issued_invoice_refuses_changes_and_deletion(personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    invoice.total_cents = 1
    with pytest.raises(InvoiceImmutable):
        invoice.save()
    with pytest.raises(InvoiceImmutable):
        invoice.save(update_fields=["total_cents"])
    with pytest.raises(InvoiceImmutable):
        Invoice.objects.filter(pk=invoice.pk).update(net_cents=0)
    with pytest.raises(InvoiceImmutable):
        invoice.delete()
    with pytest.raises(InvoiceImmutable):
        Invoice.objects.all().delete()
    line = invoice.lines.first()
    line.net_cents = 0
    with pytest.raises(InvoiceImmutable):
        line.save()
    invoice.refresh_from_db()
    assert invoice.total_cents > 1
    assert InvoiceLine.objects.filter(invoice=invoice, net_cents=0).count() == 0


def test_a_credit_note_corrects_an_invoice_in_its_own_series(personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    credit = services.credit_note_issue(invoice=invoice, issued_by=personas.staff["finance"])
    assert credit.kind == Invoice.Kind.CREDIT_NOTE
    assert credit.corrects == invoice
    assert credit.number.startswith("C")
    assert credit.total_cents == -invoice.total_cents
    assert credit.vat_cents == -invoice.vat_cents
    with pytest.raises(services.BillingError):
        services.credit_note_issue(invoice=invoice, issued_by=personas.staff["finance"])


def test_a_cancelled_order_gets_no_invoice(personas):
    order = order_for(personas.customer_a)
    order.status = "cancelled"
    order.save(update_fields=["status"])
    with pytest.raises(services.BillingError):
        services.invoice_issue(order=order, issued_by=None)
