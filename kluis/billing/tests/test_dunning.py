"""Reminders, the statutory letter and the path to collections (R29), by fixed dates."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured

from kluis.billing import dunning, services, statements
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import CollectionHandover, Invoice, Reminder
from kluis.billing.tests.helpers import order_for
from kluis.jobs.registry import JOBS
from kluis.mail.models import OutboxMessage

pytestmark = pytest.mark.django_db(databases="__all__")

ISSUE = dt.date(2026, 3, 2)  # a Monday; the invoice is due 14 days later
DUE = dt.date(2026, 3, 16)


def day(offset: int) -> dt.date:
    return DUE + dt.timedelta(days=offset)


def _euro(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@pytest.fixture(autouse=True)
def _schedule(settings):
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    settings.KLUIS_PAYMENT_TERM_DAYS = 14


def issue(customer, **kwargs) -> Invoice:
    invoice = services.invoice_issue(
        order=order_for(customer, **kwargs), issued_by=None, issue_date=ISSUE
    )
    assert invoice.due_date == DUE
    return invoice


def run_days(first: int, last: int) -> None:
    for offset in range(first, last + 1):
        dunning.dunning_run(today=day(offset))


def sent(invoice: Invoice) -> list[tuple[str, dt.date, dt.date]]:
    return [(r.stage, r.sent_on, r.pay_by) for r in invoice.reminders.order_by("sent_on")]


# --- the cost staffel -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "costs"),
    [
        (0, 0),
        (1, 4_000),  # the minimum of €40
        (26_666, 4_000),  # 15 % is €39.999
        (26_667, 4_000),  # 15 % is €40.0005
        (26_700, 4_005),
        (250_000, 37_500),  # the end of the first band: 15 % of €2,500
        (250_100, 37_510),  # the next euro at 10 %
        (500_000, 62_500),
        (500_100, 62_505),  # 5 %
        (1_000_000, 87_500),
        (1_000_100, 87_501),  # 1 %
        (20_000_000, 277_500),
        (20_000_200, 277_501),  # 0.5 %
        (100_000_000, 677_500),  # exactly the maximum of €6,775
        (250_000_000, 677_500),
    ],
)
def test_collection_costs_follow_the_besluit_at_the_band_boundaries(principal, costs):
    assert dunning.collection_costs(principal) == costs


# --- terms ---------------------------------------------------------------------------


def test_easter_falls_on_the_known_sundays():
    assert dunning._easter(2024) == dt.date(2024, 3, 31)
    assert dunning._easter(2025) == dt.date(2025, 4, 20)
    assert dunning._easter(2026) == dt.date(2026, 4, 5)
    assert dunning._easter(2027) == dt.date(2027, 3, 28)


@pytest.mark.parametrize(
    ("sent_on", "pay_by"),
    [
        (dt.date(2026, 4, 14), dt.date(2026, 4, 29)),  # a Wednesday: 15 days later
        (dt.date(2026, 3, 6), dt.date(2026, 3, 23)),  # lands on a Saturday: Monday
        (dt.date(2026, 3, 21), dt.date(2026, 4, 7)),  # Easter Sunday and Monday
        (dt.date(2026, 4, 12), dt.date(2026, 4, 28)),  # King's Day, a Monday in 2026
        (dt.date(2026, 12, 10), dt.date(2026, 12, 28)),  # Christmas, then a weekend
    ],
)
def test_the_statutory_term_is_14_days_after_receipt_and_ends_on_a_working_day(sent_on, pay_by):
    assert dunning.statutory_pay_by(sent_on) == pay_by
    assert pay_by - sent_on >= dt.timedelta(days=15)


def test_the_reminder_schedule_is_parsed_strictly(monkeypatch):
    from kluis.env import env_days

    monkeypatch.setenv("KLUIS_REMINDER_DAYS", " 3, 10 ,30")
    assert env_days("KLUIS_REMINDER_DAYS", [7]) == [3, 10, 30]
    monkeypatch.setenv("KLUIS_REMINDER_DAYS", "")
    assert env_days("KLUIS_REMINDER_DAYS", [7, 21]) == [7, 21]
    for bad in ("21,7", "7,7", "0,7", "-1", "7,,21", "zeven", "7;21"):
        monkeypatch.setenv("KLUIS_REMINDER_DAYS", bad)
        with pytest.raises(ImproperlyConfigured, match="KLUIS_REMINDER_DAYS"):
            env_days("KLUIS_REMINDER_DAYS", [7, 21])


# --- the schedule ---------------------------------------------------------------------


def test_a_consumer_gets_the_reminders_in_order_then_the_statutory_letter(personas):
    invoice = issue(personas.customer_a)
    run_days(-3, 60)
    assert sent(invoice) == [
        ("reminder_1", day(7), day(14)),
        ("reminder_2", day(21), day(28)),
        # the day after reminder 2's term; 15 days later, no weekend or holiday
        ("statutory_letter", day(29), dt.date(2026, 4, 29)),
    ]
    letter = invoice.reminders.get(stage=Reminder.STATUTORY_LETTER)
    assert letter.open_cents == invoice.total_cents
    assert letter.costs_cents == dunning.collection_costs(invoice.total_cents) == 4_000
    assert not any(r.costs_cents for r in invoice.reminders.exclude(pk=letter.pk))


def test_a_longer_schedule_sends_each_reminder_it_lists(personas, settings):
    settings.KLUIS_REMINDER_DAYS = [3, 10, 30]
    invoice = issue(personas.customer_a)
    run_days(0, 60)
    assert [(stage, sent_on) for stage, sent_on, _ in sent(invoice)] == [
        ("reminder_1", day(3)),
        ("reminder_2", day(11)),  # waits for reminder 1's term of 7 days to end
        ("reminder_3", day(30)),
        ("statutory_letter", day(38)),
    ]


def test_a_late_job_sends_one_stage_at_a_time(personas):
    invoice = issue(personas.customer_a)
    dunning.dunning_run(today=day(40))
    dunning.dunning_run(today=day(41))
    assert sent(invoice) == [("reminder_1", day(40), day(47))]


def test_a_business_gets_no_statutory_letter_and_is_eligible_after_the_last_term(personas):
    invoice = issue(personas.customer_a, kind="organisation")
    run_days(0, 28)
    assert [stage for stage, _, _ in sent(invoice)] == ["reminder_1", "reminder_2"]
    with pytest.raises(services.BillingError) as refused:
        dunning.collections_propose(invoice=invoice, by=personas.staff["finance"], today=day(28))
    assert refused.value.code == "not_eligible"
    run_days(29, 60)
    assert not invoice.reminders.filter(stage=Reminder.STATUTORY_LETTER).exists()
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=day(29)
    )
    assert handover.status == CollectionHandover.Status.PROPOSED
    assert handover.costs_cents == 4_000


def test_a_consumer_is_not_eligible_until_the_14_day_term_has_ended(personas):
    invoice = issue(personas.customer_a)
    run_days(0, 29)
    letter = invoice.reminders.get(stage=Reminder.STATUTORY_LETTER)
    for today in (day(28), letter.sent_on, letter.pay_by):
        assert not dunning.standing(invoice, today).eligible
        with pytest.raises(services.BillingError) as refused:
            dunning.collections_propose(invoice=invoice, by=personas.staff["finance"], today=today)
        assert refused.value.code == "not_eligible"
    after = letter.pay_by + dt.timedelta(days=1)
    assert dunning.standing(invoice, after).eligible
    dunning.collections_propose(invoice=invoice, by=personas.staff["finance"], today=after)


def test_a_consumer_without_the_letter_never_becomes_eligible(personas):
    personas.customer_a.email = None
    personas.customer_a.save(update_fields=["email", "email_index"])
    invoice = issue(personas.customer_a)
    result = dunning.dunning_run(today=day(7))
    assert result.no_email == 1 and not result.sent
    assert not invoice.reminders.exists()
    assert not dunning.standing(invoice, day(200)).eligible


# --- the job: idempotent, mails once ----------------------------------------------------


def test_running_the_job_twice_sends_each_mail_once(personas):
    invoice = issue(personas.customer_a)
    first = dunning.dunning_run(today=day(7))
    second = dunning.dunning_run(today=day(7))
    assert first.sent == {"reminder_1": 1} and second.sent == {}
    run_days(7, 40)
    run_days(7, 40)
    assert Reminder.objects.filter(invoice=invoice).count() == 3
    reminders = OutboxMessage.objects.filter(template="billing/email/reminder")
    letters = OutboxMessage.objects.filter(template="billing/email/statutory_letter")
    assert reminders.count() == 2 and letters.count() == 1
    assert {m.to_subject for m in reminders} == {invoice.customer_id}
    attachment = letters.get().attachments.get()
    assert attachment.filename == f"aanmaning-{invoice.number}.pdf"


def test_the_scheduled_job_runs_for_today(personas):
    from django.utils import timezone

    invoice = services.invoice_issue(
        order=order_for(personas.customer_a),
        issued_by=None,
        issue_date=timezone.localdate() - dt.timedelta(days=30),
    )
    assert JOBS["billing_dunning"].every == dt.timedelta(days=1)
    assert "1 reminder_1" in JOBS["billing_dunning"].run()
    assert "sent: nothing" in JOBS["billing_dunning"].run()
    assert sent(invoice)[0][0] == "reminder_1"


def test_paid_and_credited_invoices_get_no_reminders(personas, tmp_path):
    paid = issue(personas.customer_a)
    credited = issue(personas.customer_b)
    tx = Tx("E1", _euro(paid.total_cents), kenmerk=paid.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    services.credit_note_issue(invoice=credited, issued_by=personas.staff["finance"])
    run_days(0, 60)
    assert not Reminder.objects.exists()
    assert not OutboxMessage.objects.filter(template__startswith="billing/email/reminder").exists()


# --- paid: out of the process at once ---------------------------------------------------


def test_a_payment_midway_closes_the_reminders_and_stops_the_letter(personas, tmp_path):
    invoice = issue(personas.customer_a)
    run_days(0, 10)
    assert [s for s, _, _ in sent(invoice)] == ["reminder_1"]
    tx = Tx("E1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    reminder = invoice.reminders.get()
    assert reminder.closed_at is not None
    run_days(11, 80)
    assert invoice.reminders.count() == 1
    assert not dunning.overdue_standings(day(80))


def test_a_partial_payment_keeps_the_process_going_with_the_rest(personas, tmp_path):
    invoice = issue(personas.customer_a)
    run_days(0, 10)
    tx = Tx("E1", "1.00", kenmerk=invoice.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    run_days(11, 30)
    second = invoice.reminders.get(stage="reminder_2")
    assert second.open_cents == invoice.total_cents - 100
    assert second.closed_at is None


def _eligible(personas) -> Invoice:
    invoice = issue(personas.customer_a)
    run_days(0, 45)
    return invoice


def test_paying_cancels_a_proposed_handover(personas, tmp_path):
    invoice = _eligible(personas)
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=day(45)
    )
    tx = Tx("E1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.CANCELLED
    assert handover.paid_at is not None
    from kluis.testing import make_staff

    with pytest.raises(services.BillingError) as refused:
        dunning.collections_decide(
            handover=handover, by=make_staff(roles=["finance"]), approve=True
        )
    assert refused.value.code == "not_proposed"
    assert all(r.closed_at is not None for r in invoice.reminders.all())


def test_paying_after_the_handover_marks_it_for_finance_to_tell_the_collector(personas, tmp_path):
    from kluis.testing import make_staff

    invoice = _eligible(personas)
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=day(45)
    )
    second = make_staff(roles=["finance"])
    dunning.collections_decide(handover=handover, by=second, approve=True)
    tx = Tx("E1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.PAID_AFTER_HANDOVER
    assert handover in dunning.handovers_open()
    dunning.collections_collector_told(handover=handover, by=second)
    assert handover not in dunning.handovers_open()
    with pytest.raises(services.BillingError):
        dunning.collections_collector_told(handover=handover, by=second)


# --- four eyes ---------------------------------------------------------------------------


def test_the_proposer_cannot_approve_and_a_second_user_can(personas):
    from kluis.audit.models import Disclosure
    from kluis.testing import make_staff

    invoice = _eligible(personas)
    finance = personas.staff["finance"]
    handover = dunning.collections_propose(invoice=invoice, by=finance, today=day(45))
    with pytest.raises(services.BillingError) as refused:
        dunning.collections_propose(invoice=invoice, by=finance, today=day(45))
    assert refused.value.code == "already_proposed"
    with pytest.raises(services.BillingError) as refused:
        dunning.collections_decide(handover=handover, by=finance, approve=True)
    assert refused.value.code == "four_eyes"
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.PROPOSED
    assert not Disclosure.objects.exists()
    approved = dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=True
    )
    assert approved.status == CollectionHandover.Status.APPROVED
    assert len(approved.csv_sha256) == 64 and len(approved.pdf_sha256) == 64
    with pytest.raises(services.BillingError):
        dunning.collections_decide(
            handover=handover, by=make_staff(roles=["finance"]), approve=True
        )


def test_a_rejected_handover_discloses_nothing_and_may_be_proposed_again(personas):
    from kluis.audit.models import Disclosure
    from kluis.testing import make_staff

    invoice = _eligible(personas)
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=day(45)
    )
    rejected = dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=False
    )
    assert rejected.status == CollectionHandover.Status.REJECTED
    assert not rejected.csv_sha256
    assert not Disclosure.objects.exists()
    again = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=day(46)
    )
    assert again.pk != handover.pk


def test_a_credited_invoice_is_not_handed_over(personas):
    from kluis.testing import make_staff

    invoice = _eligible(personas)
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=day(45)
    )
    services.credit_note_issue(invoice=invoice, issued_by=personas.staff["finance"])
    with pytest.raises(services.BillingError) as refused:
        dunning.collections_decide(
            handover=handover, by=make_staff(roles=["finance"]), approve=True
        )
    assert refused.value.code == "credited"
