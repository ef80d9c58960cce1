"""Reminders and collections after a chargeback opens a paid invoice again: the schedule
starts anew (a new round) and an invoice with the debt collector stays there."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.billing import dunning, services
from kluis.billing.models import Chargeback, Invoice, Reminder
from kluis.billing.tests.helpers import order_for
from kluis.billing.tests.test_ideal import _start, provider  # noqa: F401
from kluis.mail.models import OutboxMessage

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
