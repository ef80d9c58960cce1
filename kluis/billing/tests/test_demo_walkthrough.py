"""The finance walk-through of `make run`, end to end through the back office.

The demo data leaves three invoices and a bank statement; two finance users import
the statement, approve the refund of the overpayment, download a schema-valid
pain.001, and hand the third invoice over to the debt collector.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from lxml import etree  # type: ignore[import-untyped]

from kluis.accounts.models import User
from kluis.audit.models import Disclosure
from kluis.billing.demo import OVERPAID_CENTS
from kluis.billing.models import CollectionHandover, Invoice, Refund, Reminder
from kluis.mail.models import OutboxMessage
from kluis.shop.models import Order
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def demo(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo_data", stdout=io.StringIO())
    return tmp_path


def _finance(email: str) -> User:
    user = User.objects.get_by_email(email)
    assert user is not None
    return user


def test_the_demo_leaves_three_invoices_and_a_valid_statement(demo):
    invoices = list(Invoice.objects.order_by("number"))
    assert len(invoices) == 3
    unpaid, paid, overpaid = invoices
    assert unpaid.issue_date < paid.issue_date == overpaid.issue_date
    assert all(i.paid_cents == 0 for i in invoices)
    assert {i.order.status for i in invoices} == {Order.Status.AWAITING_PAYMENT}
    stages = set(unpaid.reminders.values_list("stage", flat=True))
    assert Reminder.STATUTORY_LETTER in stages and len(stages) == 3
    text = (demo / "demo" / "afschrift-demo.xml").read_text()
    assert paid.payment_reference in text and overpaid.number in text
    assert unpaid.number not in text and unpaid.payment_reference not in text


def test_running_the_demo_twice_changes_nothing(demo):
    before = (Invoice.objects.count(), OutboxMessage.objects.count())
    call_command("demo_data", stdout=io.StringIO())
    assert (Invoice.objects.count(), OutboxMessage.objects.count()) == before


def test_finance_walks_the_demo_from_statement_to_collections(client, demo):
    unpaid, paid, overpaid = Invoice.objects.order_by("number")
    first = _finance("finance@staff.winkeltjes.net")
    second = _finance("finance2@staff.winkeltjes.net")

    # 1. The first finance user imports the statement in the back office.
    log_in(client, first)
    statement = (demo / "demo" / "afschrift-demo.xml").read_bytes()
    response = client.post(
        reverse("billing_backoffice:statements"),
        {"statement": SimpleUploadedFile("afschrift-demo.xml", statement, "text/xml")},
    )
    assert response.status_code == 302
    for invoice in (unpaid, paid, overpaid):
        invoice.refresh_from_db()
    assert paid.is_paid and paid.paid_cents == paid.total_cents
    assert paid.order.status == Order.Status.PAID
    assert overpaid.paid_cents == overpaid.total_cents + OVERPAID_CENTS
    assert unpaid.paid_cents == 0

    # 2. The overpayment is proposed by the importer and approved by the other user.
    refund = Refund.objects.get()
    assert (refund.invoice, refund.amount_cents) == (overpaid, OVERPAID_CENTS)
    decide = reverse("billing_backoffice:refund-decide", args=[refund.pk])
    client.post(decide, {"approve": "yes"})
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROPOSED  # not by the one who proposed it
    client.logout()
    log_in(client, second)
    client.post(decide, {"approve": "yes"})
    refund.refresh_from_db()
    assert refund.status == Refund.Status.APPROVED
    response = client.post(reverse("billing_backoffice:refunds-export"))
    assert response.status_code == 200
    schema = etree.XMLSchema(etree.parse(str(settings.KLUIS_ISO20022_DIR / "pain.001.001.03.xsd")))
    document = etree.fromstring(response.content)
    assert schema.validate(document), schema.error_log
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert document.findtext(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns) == "25.00"
    assert document.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=ns) == "NL20INGB0001234567"

    # 3. The unpaid invoice, reminded and past its 14-day letter, goes to collections.
    client.logout()
    log_in(client, first)
    page = client.get(reverse("billing_backoffice:collections")).content.decode()
    assert unpaid.number in page
    client.post(reverse("billing_backoffice:collections-propose", args=[unpaid.pk]))
    handover = CollectionHandover.objects.get()
    client.logout()
    log_in(client, second)
    client.post(
        reverse("billing_backoffice:collections-decide", args=[handover.pk]), {"approve": "yes"}
    )
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.APPROVED
    response = client.get(reverse("billing_backoffice:collections-csv", args=[handover.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    assert len(rows) == 2
    personal = dict(zip(header, row, strict=True))
    assert "Fatima El Amrani" in personal.values()
    assert "fatima@demo.winkeltjes.net" in personal.values()
    assert unpaid.number in personal.values()
    text = response.content.decode("utf-8-sig")
    for absent in (unpaid.payment_reference, "K000005", str(unpaid.customer_id)):
        assert absent not in text
    disclosure = Disclosure.objects.get(subject=unpaid.customer_id)
    assert (disclosure.recipient, disclosure.purpose) == ("debt_collector", "collections")
