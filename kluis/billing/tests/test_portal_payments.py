"""Payments and refunds per invoice in the portal: only the customer's own, few queries."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.billing import services
from kluis.billing.models import BankStatement, Invoice, Payment, Refund
from kluis.billing.pdf import euro
from kluis.billing.tests.helpers import order_for
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

_entries = itertools.count(1)
ALICE_IBAN = "NL02ABNA0123456789"
BOB_IBAN = "NL91RABO0315273637"


def received(
    invoice: Invoice, cents: int, *, iban: str, day: dt.date = dt.date(2026, 11, 2)
) -> Payment:
    """A payment matched on its betalingskenmerk: the customer is its subject."""
    statement = BankStatement.objects.create(
        version="02", message_id="T", statement_id="T", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=f"R{next(_entries)}",
        subject=invoice.customer_id,
        booking_date=day,
        amount_cents=cents,
        match=Payment.Match.REFERENCE,
        invoice=invoice,
        iban=iban,
        holder="A. de Vries",
    )
    payment.save(force_insert=True)
    return payment


def test_a_customer_sees_payments_with_the_last_four_and_refunds_with_status(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    first = received(invoice, 2500, iban=ALICE_IBAN, day=dt.date(2026, 11, 2))
    second = received(invoice, 1234, iban=ALICE_IBAN, day=dt.date(2026, 11, 9))
    Refund.objects.create(
        invoice=invoice, payment=second, amount_cents=700, status=Refund.Status.APPROVED
    )
    log_in(client, personas.alice)

    page = client.get(reverse("billing_portal:invoices")).content.decode()

    assert "2 november 2026: " + euro(first.amount_cents) in page
    assert "9 november 2026: " + euro(second.amount_cents) in page
    assert "van rekening eindigend op 6789" in page
    # Only the last four: neither her IBAN nor its bank part (our own account, shown
    # under "how to pay", is ABN AMRO too, so her bank code alone says nothing).
    assert ALICE_IBAN not in page and "NL02 ABNA" not in page and "012345" not in page
    assert euro(700) + " · goedgekeurd" in page
    # The reveal is the customer's own, for matching payments.
    reveal = AuditEntry.objects.filter(action="vault.reveal").order_by("-seq").first()
    assert reveal is not None
    assert reveal.actor == f"subject:{personas.customer_a.id}"
    data = json.loads(reveal.payload)["data"]
    assert data["purpose"] == "payment_matching"
    assert data["categories"] == ["user.financial.bank_account"]


def test_another_customer_sees_none_of_them(client, personas):
    alices = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    payment = received(alices, 2500, iban=ALICE_IBAN)
    Refund.objects.create(invoice=alices, payment=payment, amount_cents=999)
    bobs = services.invoice_issue(order=order_for(personas.customer_b), issued_by=None)
    received(bobs, 4321, iban=BOB_IBAN)
    log_in(client, personas.bob)

    page = client.get(reverse("billing_portal:invoices")).content.decode()

    assert euro(4321) in page and "eindigend op 3637" in page
    assert euro(2500) not in page and euro(999) not in page
    assert "6789" not in page and alices.number not in page


def test_a_payment_finance_linked_by_hand_is_the_customers_with_its_account(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    statement = BankStatement.objects.create(
        version="02", message_id="T", statement_id="T", sha256="0" * 64
    )
    loose = Payment(
        statement=statement,
        entry_reference="L1",
        booking_date=dt.date(2026, 11, 3),
        amount_cents=1500,
        match=Payment.Match.NONE,
        iban=ALICE_IBAN,
    )
    loose.subject = loose.pk
    loose.save(force_insert=True)
    services.payment_link(payment=loose, invoice=invoice, by=personas.staff["finance"])
    log_in(client, personas.alice)

    response = client.get(reverse("billing_portal:invoices"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "3 november 2026: " + euro(1500) in page
    assert f"eindigend op {ALICE_IBAN[-4:]}" in page


def test_english_customers_read_it_in_english(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    received(invoice, 2500, iban=ALICE_IBAN)
    log_in(client, personas.alice)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("billing_portal:invoices"), HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "Payments received" in text and "from the account ending in 6789" in text


def test_the_number_of_queries_does_not_grow_with_the_invoices(
    client, personas, django_assert_max_num_queries
):
    def invoice_with_money() -> None:
        invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
        payment = received(invoice, invoice.total_cents + 100, iban=ALICE_IBAN)
        received(invoice, 50, iban=ALICE_IBAN)
        Refund.objects.create(invoice=invoice, payment=payment, amount_cents=150)

    invoice_with_money()
    log_in(client, personas.alice)
    url = reverse("billing_portal:invoices")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for _ in range(6):
        invoice_with_money()
    with django_assert_max_num_queries(len(few)):
        page = client.get(url).content.decode()
    assert page.count("eindigend op 6789") == 14
    assert page.count(euro(150) + " · voorgesteld") == 7
