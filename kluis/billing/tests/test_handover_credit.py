"""A credit note after a hand-over: the hand-over's amount and costs follow the credit,
and an approved one stays on finance's page until the collector has been told."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import translation

from kluis.audit.models import AuditEntry
from kluis.billing import dunning, services
from kluis.billing.models import CollectionHandover, Invoice
from kluis.billing.services import LineInput
from kluis.billing.tests.test_collections import _rows, _through_reminders
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

ISSUE = dt.date(2026, 3, 2)
LATER = dt.date(2026, 5, 15)


@pytest.fixture(autouse=True)
def _schedule(settings):
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    settings.KLUIS_PAYMENT_TERM_DAYS = 14


def _proposed(personas) -> CollectionHandover:
    invoice = _through_reminders(personas.customer_a)
    return dunning.collections_propose(invoice=invoice, by=personas.staff["finance"], today=LATER)


def _approve(handover: CollectionHandover) -> CollectionHandover:
    return dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=True
    )


def _credit(invoice: Invoice, net_cents: int | None) -> Invoice:
    services.credit_note_issue(
        invoice=invoice,
        issued_by=None,
        issue_date=LATER,
        lines=None if net_cents is None else [LineInput("Korting", -net_cents)],
    )
    invoice.refresh_from_db()
    return invoice


def test_an_approved_handover_takes_the_amount_left_after_a_partial_credit(personas):
    handover = _approve(_proposed(personas))
    first_open, first_costs, first_csv = (
        handover.open_cents,
        handover.costs_cents,
        handover.csv_sha256,
    )
    invoice = _credit(handover.invoice, 1000)
    handover.refresh_from_db()
    assert invoice.open_cents < first_open
    assert handover.status == CollectionHandover.Status.APPROVED
    assert handover.open_cents == invoice.open_cents
    assert handover.costs_cents == dunning.collection_costs(invoice.open_cents) <= first_costs
    assert handover.amended_at is not None and handover.collector_told_at is None
    assert handover.csv_sha256 == first_csv  # what was sent on approval stays on record
    # The collector's file now asks for what is owed.
    row = _rows(dunning.handover_csv(handover, personas.staff["finance"].actor()))[1]
    assert row[-2:] == [
        f"{handover.open_cents // 100}.{handover.open_cents % 100:02d}",
        f"{handover.costs_cents // 100}.{handover.costs_cents % 100:02d}",
    ]
    entry = AuditEntry.objects.filter(action="billing.handover_amended").get()
    data = json.loads(entry.payload)["data"]
    assert data["before"] == {"open_cents": first_open, "costs_cents": first_costs}
    assert data["open_cents"] == handover.open_cents
    assert dunning.handover_to_tell(handover)
    assert handover in dunning.handovers_open()


def test_finance_sees_the_amendment_and_records_telling_the_collector(client, personas):
    handover = _approve(_proposed(personas))
    _credit(handover.invoice, 1000)
    log_in(client, personas.staff["finance"])
    with translation.override("nl"):
        page = client.get(reverse("billing_backoffice:collections")).content.decode()
    assert "Na de overdracht gecrediteerd op" in page
    assert reverse("billing_backoffice:collections-told", args=[handover.pk]) in page
    client.post(reverse("billing_backoffice:collections-told", args=[handover.pk]))
    handover.refresh_from_db()
    assert handover.collector_told_at is not None and not dunning.handover_to_tell(handover)
    page = client.get(reverse("billing_backoffice:collections")).content.decode()
    assert "Na de overdracht gecrediteerd op" not in page
    # Told once is told once: a second post changes nothing and says so.
    told = handover.collector_told_at
    response = client.post(
        reverse("billing_backoffice:collections-told", args=[handover.pk]), follow=True
    )
    assert "Hier is niets aan het incassobureau te melden." in response.content.decode()
    handover.refresh_from_db()
    assert handover.collector_told_at == told


def test_a_payment_after_a_told_amendment_is_to_be_told_again(personas):
    handover = _approve(_proposed(personas))
    _credit(handover.invoice, 1000)
    handover = dunning.collections_collector_told(handover=handover, by=personas.staff["finance"])
    dunning.dunning_invoices_paid([handover.invoice])
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.PAID_AFTER_HANDOVER
    assert dunning.handover_to_tell(handover)


def test_a_proposed_handover_follows_and_approval_hands_over_what_is_left(personas):
    handover = _proposed(personas)
    invoice = _credit(handover.invoice, 1000)
    handover.refresh_from_db()
    assert handover.open_cents == invoice.open_cents
    assert handover.costs_cents == dunning.collection_costs(invoice.open_cents)
    assert handover.amended_at is None  # nothing was sent yet
    handover = _approve(handover)
    assert handover.open_cents == invoice.open_cents
    assert not dunning.handover_to_tell(handover)


def test_credited_in_full_an_approved_handover_is_withdrawn_and_a_proposed_one_lapses(
    personas,
):
    approved = _approve(_proposed(personas))
    _credit(approved.invoice, None)
    approved.refresh_from_db()
    assert approved.status == CollectionHandover.Status.WITHDRAWN
    assert (approved.open_cents, approved.costs_cents) == (0, 0)
    assert dunning.handover_to_tell(approved) and approved in dunning.handovers_open()
    assert AuditEntry.objects.filter(action="billing.handover_withdrawn").exists()

    proposed = dunning.collections_propose(
        invoice=_through_reminders(personas.customer_b), by=personas.staff["finance"], today=LATER
    )
    _credit(proposed.invoice, None)
    proposed.refresh_from_db()
    assert proposed.status == CollectionHandover.Status.CREDITED
    assert not dunning.handover_to_tell(proposed) and proposed not in dunning.handovers_open()
    with pytest.raises(services.BillingError) as refused:
        _approve(proposed)
    assert refused.value.code == "credited"
