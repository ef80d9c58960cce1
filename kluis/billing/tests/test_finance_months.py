"""The months of the finance overview, against invoices and payments built by hand.

Every invoice here has the same total T (one webwinkel order); partial payments make
the amounts tell the invoices apart. "Today" is 10 March 2026, so the twelve months
run from April 2025 to March 2026 and the running month's cut-off is today.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from kluis.billing import selectors, services
from kluis.billing.models import BankStatement, Invoice, Payment
from kluis.billing.tests.helpers import order_for
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")

TODAY = dt.date(2026, 3, 10)
_entries = itertools.count(1)


def issue(personas: Personas, day: dt.date) -> Invoice:
    return services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=day
    )


def pay(personas: Personas, invoice: Invoice, cents: int, day: dt.date) -> Payment:
    """A payment booked on `day` that finance links to `invoice` (as from the queue)."""
    statement = BankStatement.objects.create(
        version="02", message_id="T", statement_id=f"S{day}", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=f"E{next(_entries)}",
        booking_date=day,
        amount_cents=cents,
        match=Payment.Match.NONE,
        iban="NL02ABNA0123456789",
        holder="Alice de Vries",
    )
    payment.subject = payment.pk
    payment.save(force_insert=True)
    return services.payment_link(payment=payment, invoice=invoice, by=personas.staff["finance"])


@pytest.fixture
def ledger(personas):
    """Invoices A to G around the month ends of December 2025 to March 2026."""
    finance = personas.staff["finance"]
    # E: from before the window, 1,11 paid before it, open and overdue ever since.
    e = issue(personas, dt.date(2025, 3, 15))
    pay(personas, e, 111, dt.date(2025, 3, 20))
    # F: paid in full before the window: in no month at all.
    f = issue(personas, dt.date(2025, 2, 1))
    pay(personas, f, f.total_cents, dt.date(2025, 3, 1))
    # A: issued on the last day of December, paid on the last day of January.
    a = issue(personas, dt.date(2025, 12, 31))
    pay(personas, a, a.total_cents, dt.date(2026, 1, 31))
    # B: issued on the first of January; 10,00 on 1 February, the rest on 1 March.
    b = issue(personas, dt.date(2026, 1, 1))
    pay(personas, b, 1000, dt.date(2026, 2, 1))
    pay(personas, b, b.total_cents - 1000, dt.date(2026, 3, 1))
    # C: due on 31 January (not yet late that day), credited on 28 February, and
    # paid anyway on 2 March: money for a cancelled invoice is not income.
    c = issue(personas, dt.date(2026, 1, 17))
    services.credit_note_issue(invoice=c, issued_by=finance, issue_date=dt.date(2026, 2, 28))
    pay(personas, c, c.total_cents, dt.date(2026, 3, 2))
    # D: paid 5,00 too much on 28 February: only the total counts as paid.
    d = issue(personas, dt.date(2026, 2, 14))
    pay(personas, d, d.total_cents + 500, dt.date(2026, 2, 28))
    # G: issued today, 22,22 paid today.
    g = issue(personas, TODAY)
    pay(personas, g, 2222, TODAY)
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}


def figures(month: selectors.MonthFigures) -> tuple[int, ...]:
    return (
        month.open_count,
        month.open_cents,
        month.overdue_count,
        month.overdue_cents,
        month.paid_count,
        month.paid_cents,
    )


def test_the_months_follow_the_ledger_across_month_ends(ledger):
    total = ledger["a"].total_cents
    assert all(invoice.total_cents == total for invoice in ledger.values())

    months = {m.month: m for m in selectors.finance_months(today=TODAY)}

    assert list(months) == [dt.date(2025, m, 1) for m in range(4, 13)] + [
        dt.date(2026, m, 1) for m in range(1, 4)
    ]
    # Only E, open and late, from April to November.
    for first in list(months)[:8]:
        assert figures(months[first]) == (1, total - 111, 1, total - 111, 0, 0), first
    december = months[dt.date(2025, 12, 1)]
    assert december.cutoff == dt.date(2025, 12, 31)
    assert figures(december) == (2, 2 * total - 111, 1, total - 111, 0, 0)
    january = months[dt.date(2026, 1, 1)]
    assert figures(january) == (3, 3 * total - 111, 2, 2 * total - 111, 1, total)
    february = months[dt.date(2026, 2, 1)]
    assert february.cutoff == dt.date(2026, 2, 28)
    assert figures(february) == (
        2,
        2 * total - 1000 - 111,
        2,
        2 * total - 1000 - 111,
        1,
        1000 + total,
    )
    march = months[dt.date(2026, 3, 1)]
    assert march.cutoff == TODAY
    assert figures(march) == (2, 2 * total - 111 - 2222, 1, total - 111, 1, total - 1000 + 2222)


def assert_running_month_agrees(overview: selectors.FinanceOverview) -> None:
    """The running month's open and overdue are those of the invoices as they stand."""
    march = overview.this_month
    assert (overview.open_count, overview.open_cents) == (march.open_count, march.open_cents)
    assert (overview.overdue_count, overview.overdue_cents) == (
        march.overdue_count,
        march.overdue_cents,
    )


def test_the_running_month_agrees_with_the_invoices_as_they_stand(ledger):
    overview = selectors.finance_overview(today=TODAY)
    assert_running_month_agrees(overview)
    assert sum(item.open_cents for item in overview.open_items) == overview.open_cents


def test_the_open_items_come_overdue_first_with_their_days(ledger):
    items = selectors.finance_overview(today=TODAY).open_items
    assert [item.invoice for item in items] == [ledger["e"], ledger["g"]]
    assert items[0].days_overdue == (TODAY - ledger["e"].due_date).days == 346
    assert items[1].days_overdue == 0


def test_the_queue_counts_proposals_unmatched_payments_and_refunds(ledger):
    overview = selectors.finance_overview(today=TODAY)
    assert overview.proposed_payments == 0
    assert overview.unmatched_payments == 0
    # D's overpayment, proposed by the finance user who linked it, and C's payment,
    # which arrived after C was credited and so is proposed for refund by itself.
    assert (overview.refunds_to_decide, overview.refunds_to_export) == (2, 0)
    statement = BankStatement.objects.first()
    assert statement is not None
    for match in (Payment.Match.NONE, Payment.Match.NONE, Payment.Match.PROPOSED):
        loose = Payment(
            statement=statement,
            entry_reference=f"L{next(_entries)}",
            booking_date=TODAY,
            amount_cents=100,
            match=match,
            proposed_invoice=ledger["g"] if match == Payment.Match.PROPOSED else None,
        )
        loose.subject = loose.pk
        loose.save(force_insert=True)
    overview = selectors.finance_overview(today=TODAY)
    assert (overview.proposed_payments, overview.unmatched_payments) == (1, 2)


def test_four_queries_whatever_the_number_of_invoices(ledger, personas, django_assert_num_queries):
    with django_assert_num_queries(4):
        selectors.finance_months(today=TODAY)
    for day in (dt.date(2025, 6, 1), dt.date(2025, 9, 30), dt.date(2026, 2, 2)):
        pay(personas, issue(personas, day), 500, day + dt.timedelta(days=3))
    with django_assert_num_queries(4):
        months = selectors.finance_months(today=TODAY)
    assert months[-1].open_count == 5


def test_no_invoices_give_twelve_empty_months(personas, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        months = selectors.finance_months(today=TODAY)
    assert len(months) == 12
    assert all(figures(m) == (0, 0, 0, 0, 0, 0) for m in months)
    assert months[0].month == dt.date(2025, 4, 1) and months[0].cutoff == dt.date(2025, 4, 30)


def test_a_year_boundary_and_a_short_february():
    # Leap year: the end of February 2028 is the 29th.
    months = selectors.finance_months(today=dt.date(2028, 3, 31), months=3)
    assert [(m.month, m.cutoff) for m in months] == [
        (dt.date(2028, 1, 1), dt.date(2028, 1, 31)),
        (dt.date(2028, 2, 1), dt.date(2028, 2, 29)),
        (dt.date(2028, 3, 1), dt.date(2028, 3, 31)),
    ]
    months = selectors.finance_months(today=dt.date(2027, 1, 5), months=2)
    assert [m.cutoff for m in months] == [dt.date(2026, 12, 31), dt.date(2027, 1, 5)]
