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
