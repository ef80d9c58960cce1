"""Reminders and collections after a chargeback opens a paid invoice again: the schedule
starts anew (a new round) and an invoice with the debt collector stays there."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.billing import dunning, services
from kluis.billing.models import Chargeback, CollectionHandover, Invoice, Reminder
from kluis.billing.testing import invoice_through_reminders
from kluis.billing.tests.helpers import order_for
from kluis.billing.tests.test_ideal import _start, provider  # noqa: F401
from kluis.mail.models import OutboxMessage
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def _stages(invoice: Invoice) -> list[tuple[int, str]]:
    return list(
        Reminder.objects.filter(invoice=invoice)
        .order_by("round", "sent_on", "pk")
        .values_list("round", "stage")
    )


def _reminded_then_paid_online(client, personas, state) -> tuple[Invoice, str]:
    """A consumer's invoice that got reminders 1 and 2 (not the statutory letter) and
    was then paid online in full."""
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    dunning.dunning_run(today=invoice.due_date + dt.timedelta(days=7))
    dunning.dunning_run(today=invoice.due_date + dt.timedelta(days=21))
    assert _stages(invoice) == [(1, "reminder_1"), (1, "reminder_2")]
    started = _start(client, invoice)
    state.set_status(started.provider_id, "paid")
    invoice.refresh_from_db()
    assert invoice.is_paid
    assert not Reminder.objects.filter(invoice=invoice, closed_at__isnull=True).exists()
    return invoice, started.provider_id


def test_a_reopened_invoice_starts_its_reminders_anew_from_the_chargebacks_date(
    client,
    personas,
    provider,  # noqa: F811
    settings,
):
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    invoice, provider_id = _reminded_then_paid_online(client, personas, provider.state)
    mails_before = OutboxMessage.objects.filter(template__startswith="billing/email/").count()
    provider.state.chargeback(provider_id)
    chargeback = Chargeback.objects.get()
    assert (
        invoice.due_date + dt.timedelta(days=21) + dt.timedelta(days=dunning.REMINDER_TERM_DAYS)
        > chargeback.pay_by
    )
    # The daily job over the next three months, each day run twice (a rerun after a
    # crash): reminder 1 comes first, once, a week after the chargeback mail's date;
    # then reminder 2, then the statutory letter with its 14 days.
    today = timezone.localdate()
    first_new: dict[str, dt.date] = {}
    for n in range(90):
        day = today + dt.timedelta(days=n)
        for _run in range(2):
            dunning.dunning_run(today=day)
        for stage in Reminder.objects.filter(invoice=invoice, round=2).values_list(
            "stage", flat=True
        ):
            first_new.setdefault(stage, day)
    assert _stages(invoice) == [
        (1, "reminder_1"),
        (1, "reminder_2"),
        (2, "reminder_1"),
        (2, "reminder_2"),
        (2, Reminder.STATUTORY_LETTER),
    ]
    assert first_new["reminder_1"] == chargeback.pay_by + dt.timedelta(days=7)
    assert first_new["reminder_1"] < first_new["reminder_2"] < first_new["statutory_letter"]
    letter = Reminder.objects.get(invoice=invoice, round=2, stage=Reminder.STATUTORY_LETTER)
    second = Reminder.objects.get(invoice=invoice, round=2, stage="reminder_2")
    # Art. 6:96 BW: the letter comes after the term of the last reminder (so well after
    # the due date) and gives its 14 days from the day after receipt.
    assert letter.sent_on > second.pay_by
    assert letter.pay_by >= letter.sent_on + dt.timedelta(days=15)
    assert letter.costs_cents == dunning.collection_costs(invoice.total_cents)
    # Each reminder of the new round was mailed once (the old round's keys do not
    # swallow them), the reruns added nothing.
    new_mails = OutboxMessage.objects.filter(template__startswith="billing/email/").count()
    reminder_mails = OutboxMessage.objects.filter(
        dedupe_key__startswith=f"reminder:{invoice.pk}:2:"
    )
    assert reminder_mails.count() == 3
    assert new_mails - mails_before == 1 + 3  # the chargeback mail and the round's three
    assert AuditEntry.objects.filter(action="billing.reminder_sent").count() == 5
    # Then collections, as for any unpaid invoice.
    [state] = dunning.overdue_standings(letter.pay_by + dt.timedelta(days=1))
    assert state.invoice == invoice and state.eligible and state.round == 2


def test_the_old_rounds_reminders_stay_as_they_were_and_paying_again_closes_the_new(
    client,
    personas,
    provider,  # noqa: F811
    settings,
):
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    invoice, provider_id = _reminded_then_paid_online(client, personas, provider.state)
    old = list(Reminder.objects.filter(invoice=invoice).values_list("pk", "closed_at"))
    remote = provider.state.chargeback(provider_id)
    day = Chargeback.objects.get().pay_by + dt.timedelta(days=7)
    dunning.dunning_run(today=day)
    assert _stages(invoice)[-1] == (2, "reminder_1")
    assert list(
        Reminder.objects.filter(invoice=invoice, round=1).values_list("pk", "closed_at")
    ) == (old)
    # The bank withdraws the chargeback: paid again, the new round's reminder closes.
    provider.state.chargeback_reverse(remote["id"])
    assert not Reminder.objects.filter(invoice=invoice, closed_at__isnull=True).exists()
    assert dunning.reminder_round(list(Reminder.objects.filter(invoice=invoice))) == 3


# --- an invoice with the debt collector -------------------------------------------------


def _handed_over_paid_and_told(client, personas, state) -> tuple[CollectionHandover, str]:
    """An invoice handed to the collector (four-eyes), then paid online in full; finance
    told the collector of the payment."""
    invoice = invoice_through_reminders(personas.customer_a)
    handover = dunning.collections_propose(invoice=invoice, by=personas.staff["finance"])
    dunning.collections_decide(handover=handover, by=make_staff(roles=["finance"]), approve=True)
    started = _start(client, invoice)
    state.set_status(started.provider_id, "paid")
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.PAID_AFTER_HANDOVER
    dunning.collections_collector_told(handover=handover, by=personas.staff["finance"])
    handover.refresh_from_db()
    assert not dunning.handover_to_tell(handover)
    return handover, started.provider_id


def test_a_chargeback_after_the_collector_was_told_of_the_payment_puts_the_claim_back(
    client,
    personas,
    provider,  # noqa: F811
):
    handover, provider_id = _handed_over_paid_and_told(client, personas, provider.state)
    invoice = handover.invoice
    collections = reverse("billing_backoffice:collections")
    log_in(client, personas.staff["finance"])
    page = client.get(collections).content.decode()
    assert f'data-handover="{handover.pk}"' not in page  # ended: nothing to act on
    reminders_before = Reminder.objects.filter(invoice=invoice).count()
    remote = provider.state.chargeback(provider_id, 700)
    handover.refresh_from_db()
    # The claim stands again, with the collector, for the amount now open.
    assert handover.status == CollectionHandover.Status.APPROVED
    assert handover.charged_back_at is not None and handover.collector_told_at is None
    assert handover.open_cents == 700
    assert handover.costs_cents == dunning.collection_costs(700)
    assert dunning.handover_to_tell(handover)
    [audit] = AuditEntry.objects.filter(action="billing.handover_charged_back")
    assert invoice.number in audit.payload
    # Finance's page says so until the collector is told; the overview counts it.
    page = client.get(collections).content.decode()
    assert f'data-handover="{handover.pk}">betaling teruggeboekt na overdracht<' in page
    assert "heeft de bank van de klant die betaling teruggeboekt" in page
    told = reverse("billing_backoffice:collections-told", kwargs={"handover_id": handover.pk})
    assert told in page
    overview = client.get(reverse("billing_backoffice:overview")).content.decode()
    counted = re.search(r'collections-charged-back">.*?<td>(\d+)</td>', overview, re.S)
    assert counted is not None and counted.group(1) == "1"
    # No reminders of our own while the collector has the claim: not in the new round,
    # not the statutory letter, however long the daily job runs.
    today = timezone.localdate()
    for n in range(0, 90, 3):
        result = dunning.dunning_run(today=today + dt.timedelta(days=n))
        assert result.sent == {}
    assert Reminder.objects.filter(invoice=invoice).count() == reminders_before
    [state] = [
        s for s in dunning.overdue_standings(today + dt.timedelta(days=60)) if s.invoice == invoice
    ]
    assert state.handover == handover and not state.next_due and not state.eligible
    # Finance tells the collector (audited); the hand-over runs on as approved.
    response = client.post(told, follow=True)
    assert response.status_code == 200
    handover = CollectionHandover.objects.get(pk=handover.pk)
    assert handover.collector_told_at is not None and not dunning.handover_to_tell(handover)
    page = client.get(collections).content.decode()
    assert f'data-handover="{handover.pk}">overgedragen<' in page
    overview = client.get(reverse("billing_backoffice:overview")).content.decode()
    counted = re.search(r'collections-charged-back">.*?<td>(\d+)</td>', overview, re.S)
    assert counted is not None and counted.group(1) == "0"
    assert AuditEntry.objects.filter(action="billing.handover_collector_told").count() == 2
    # The bank withdraws the chargeback: paid again, and the collector is to be told again.
    provider.state.chargeback_reverse(remote["id"])
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.PAID_AFTER_HANDOVER
    assert dunning.handover_to_tell(handover)


def test_a_lapsed_proposal_is_not_revived_the_schedule_runs_again(
    client,
    personas,
    provider,  # noqa: F811
):
    # Paid before a second user approved: no collector was involved. After the
    # chargeback the proposal stays lapsed and the invoice is dunned as any other.
    invoice = invoice_through_reminders(personas.customer_a)
    handover = dunning.collections_propose(invoice=invoice, by=personas.staff["finance"])
    started = _start(client, invoice)
    provider.state.set_status(started.provider_id, "paid")
    provider.state.chargeback(started.provider_id, 700)
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.CANCELLED
    assert not AuditEntry.objects.filter(action="billing.handover_charged_back").exists()
    day = Chargeback.objects.get().pay_by + dt.timedelta(days=7)
    dunning.dunning_run(today=day)
    assert Reminder.objects.filter(invoice=invoice, round=2, stage="reminder_1").exists()
