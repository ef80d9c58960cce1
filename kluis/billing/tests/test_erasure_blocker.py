"""An open invoice holds back a customer's erasure and says what happens next."""

import pytest

from kluis.billing import services
from kluis.billing.models import Invoice
from kluis.billing.tests.helpers import order_for
from kluis.rights.erasure import erasure_blockers

pytestmark = pytest.mark.django_db(databases="__all__")


def _keys(subject) -> list[str]:
    return [b.key for b in erasure_blockers(subject)]


def test_an_unpaid_invoice_holds_back_erasure_until_it_is_paid(personas):
    customer = personas.alice.customer
    order = order_for(customer)
    invoice = services.invoice_issue(order=order, issued_by=None)
    assert "billing.open_invoice" in _keys(customer.pk)
    Invoice.objects.filter(pk=invoice.pk).update(paid_cents=invoice.total_cents)
    assert "billing.open_invoice" not in _keys(customer.pk)


def test_another_customers_invoice_holds_nothing_back(personas):
    services.invoice_issue(order=order_for(personas.alice.customer), issued_by=None)
    assert "billing.open_invoice" not in _keys(personas.bob.customer.pk)


def test_erasing_a_customer_keeps_paid_invoices_and_payments_for_the_tax_years(personas, tmp_path):
    """With real invoices: what the tax law keeps is kept, with its date; the rest goes."""
    from kluis.billing.camt_write import Tx, write_statement
    from kluis.billing.models import Payment
    from kluis.billing.statements import statement_import
    from kluis.rights import services as rights_services
    from kluis.vault.models import DataKey

    customer = personas.alice.customer
    invoice = services.invoice_issue(order=order_for(customer), issued_by=None)
    order = invoice.order
    order.status = order.Status.DELIVERED  # the service was delivered and paid
    order.save(update_fields=["status"])
    amount = f"{invoice.total_cents // 100}.{invoice.total_cents % 100:02d}"
    tx = Tx("E1", amount, kenmerk=invoice.payment_reference)
    statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    assert _keys(customer.pk) == []

    request = rights_services.erasure_request_from_portal(user=personas.alice)

    year = str(invoice.issue_date.year)
    keys = {
        (k.retention_class, k.period): k.is_shredded
        for k in DataKey.objects.filter(subject=customer.pk)
    }
    assert keys[("customer_record", "")] is True
    assert keys[("fiscal", year)] is False
    kept = {i["category"] for i in request.outcome["items"] if i["status"] == "kept"}
    assert {"user.name", "user.financial.bank_account"} <= kept
    until = {i["until"] for i in request.outcome["items"] if i["status"] == "kept"}
    assert until == {f"{int(year) + 7}-12-31"}
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.billing_name.reveal(purpose="invoicing", actor=services.BILLING)
    payment = Payment.objects.get()
    assert payment.iban.reveal(purpose="payment_matching", actor=services.BILLING)
