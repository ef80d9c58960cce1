"""Chargebacks in the finance overview's months: on a cash basis, a chargeback takes
its money off the month the provider received it (local time), and a withdrawn one
counts again in the month of its reversal. "Today" is 10 March 2026 (the months run
from April 2025 to March 2026), as in test_finance_months."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest

from kluis.billing import chargebacks, mollie, selectors
from kluis.billing.chart import months_chart
from kluis.billing.models import Chargeback, Invoice, OnlinePayment, Payment
from kluis.billing.tests.test_finance_months import (
    TODAY,
    assert_running_month_agrees,
    figures,
    issue,
    pay,
)

pytestmark = pytest.mark.django_db(databases="__all__")

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
_ids = itertools.count(1)


def online(invoice: Invoice, payment: Payment) -> OnlinePayment:
    """The payment as if it came in through iDEAL (chargebacks are of online payments)."""
    return OnlinePayment.objects.create(
        provider_id=f"tr_fin{next(_ids)}",
        invoice=invoice,
        amount_cents=payment.amount_cents,
        status="paid",
        payment=payment,
    )


def charge_back(
    paid: OnlinePayment, cents: int, at: dt.datetime, *, reversed_at: dt.datetime | None = None
) -> str:
    """Record a chargeback received at `at` (and, given `reversed_at`, its reversal)
    through the same path as the webhook."""
    item = mollie.ProviderChargeback(
        id=f"chb_fin{next(_ids)}",
        payment_id=paid.provider_id,
        amount_cents=cents,
        reason_code="MD06",
        created_at=at,
        reversed_at=None,
    )
    assert chargebacks.chargeback_record(online_pk=paid.pk, item=item) is not None
    if reversed_at is not None:
        withdrawn = mollie.ProviderChargeback(**{**item.__dict__, "reversed_at": reversed_at})
        assert chargebacks.chargeback_record(online_pk=paid.pk, item=withdrawn) is not None
    return item.id


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def months() -> dict[dt.date, selectors.MonthFigures]:
    return {m.month: m for m in selectors.finance_months(today=TODAY)}


def test_a_chargeback_comes_off_its_own_month_and_a_reversal_counts_in_its_month(personas):
    # Issued 5 January, paid in full 10 January; the bank took it back on 12
    # February and withdrew that on 3 March.
    invoice = issue(personas, dt.date(2026, 1, 5))
    total = invoice.total_cents
    paid = online(invoice, pay(personas, invoice, total, dt.date(2026, 1, 10)))
    charge_back(paid, total, local(2026, 2, 12, 10), reversed_at=local(2026, 3, 3, 9))
    assert invoice.due_date < dt.date(2026, 2, 28)

    found = months()
    # January keeps the payment; February loses it, and the settled invoice with it,
    # and has the invoice open (and late) again; March has it paid again.
    assert figures(found[dt.date(2026, 1, 1)]) == (0, 0, 0, 0, 1, total)
    assert figures(found[dt.date(2026, 2, 1)]) == (1, total, 1, total, -1, -total)
    assert figures(found[dt.date(2026, 3, 1)]) == (0, 0, 0, 0, 1, total)
    assert sum(m.paid_cents for m in found.values()) == total
    assert sum(m.paid_count for m in found.values()) == 1


def test_the_running_month_agrees_with_the_invoices_after_a_chargeback(personas):
    invoice = issue(personas, dt.date(2026, 2, 2))
    paid = online(invoice, pay(personas, invoice, invoice.total_cents, dt.date(2026, 2, 3)))
    charge_back(paid, 1500, local(2026, 3, 4, 12))
    invoice.refresh_from_db()
    assert invoice.open_cents == 1500 and not invoice.is_paid

    overview = selectors.finance_overview(today=TODAY)
    assert_running_month_agrees(overview)
    assert (overview.open_count, overview.open_cents) == (1, 1500)
    # The invoice February settled is open again: March counts one settled fewer.
    assert (overview.this_month.paid_count, overview.this_month.paid_cents) == (-1, -1500)
    assert overview.months[-2].paid_count == 1
    assert overview.months[-2].paid_cents == invoice.total_cents


def test_the_month_is_that_of_the_local_day_not_of_utc(personas):
    # 1 February 00:30 in Amsterdam is still 31 January in UTC: February's.
    invoice = issue(personas, dt.date(2026, 1, 5))
    paid = online(invoice, pay(personas, invoice, invoice.total_cents, dt.date(2026, 1, 10)))
    at = local(2026, 2, 1, 0, 30)
    assert at.astimezone(dt.UTC).date() == dt.date(2026, 1, 31)
    charge_back(paid, 700, at)

    found = months()
    assert found[dt.date(2026, 1, 1)].paid_cents == invoice.total_cents
    assert found[dt.date(2026, 1, 1)].open_cents == 0
    assert found[dt.date(2026, 2, 1)].paid_cents == -700
    assert found[dt.date(2026, 2, 1)].open_cents == 700


def test_an_invoice_charged_back_before_the_window_is_open_in_every_month(personas):
    # Paid in full in January 2025 and charged back in February 2025, before the
    # twelve months: it stays open (and late) in all of them, and none of them
    # counts its payment or its chargeback.
    invoice = issue(personas, dt.date(2025, 1, 10))
    total = invoice.total_cents
    paid = online(invoice, pay(personas, invoice, total, dt.date(2025, 1, 15)))
    charge_back(paid, total, local(2025, 2, 10, 10))

    found = months()
    assert all(figures(m) == (1, total, 1, total, 0, 0) for m in found.values())


def test_a_chargeback_withdrawn_before_the_window_leaves_the_invoice_out(personas):
    invoice = issue(personas, dt.date(2025, 1, 10))
    paid = online(invoice, pay(personas, invoice, invoice.total_cents, dt.date(2025, 1, 15)))
    charge_back(paid, 400, local(2025, 2, 10, 10), reversed_at=local(2025, 3, 1, 10))

    assert all(figures(m) == (0, 0, 0, 0, 0, 0) for m in months().values())


def test_a_chargeback_takes_back_what_was_paid_too_much_first(personas):
    # 5,00 paid over the total was never income; a chargeback of 8,00 takes those
    # 5,00 first and 3,00 of what was counted.
    invoice = issue(personas, dt.date(2026, 1, 5))
    total = invoice.total_cents
    paid = online(invoice, pay(personas, invoice, total + 500, dt.date(2026, 1, 10)))
    charge_back(paid, 800, local(2026, 2, 12, 10))

    found = months()
    assert found[dt.date(2026, 1, 1)].paid_cents == total
    assert figures(found[dt.date(2026, 2, 1)]) == (1, 300, 1, 300, -1, -300)
    invoice.refresh_from_db()
    assert invoice.open_cents == 300


def test_the_chart_draws_no_bar_below_zero_but_tells_the_sum(personas):
    invoice = issue(personas, dt.date(2026, 1, 5))
    total = invoice.total_cents
    paid = online(invoice, pay(personas, invoice, total, dt.date(2026, 1, 10)))
    charge_back(paid, total, local(2026, 2, 12, 10))
    assert Chargeback.objects.count() == 1

    svg = str(months_chart(selectors.finance_months(today=TODAY)))
    february = svg.split('data-month="2026-02"')[1].split("</g>")[0]
    bar = february.split('data-series="paid"')[1].split("</rect>")[0]
    assert f'data-cents="{-total}"' in bar
    assert 'height="0"' in bar


def test_a_chargeback_that_leaves_the_invoice_settled_changes_no_count(personas):
    # 5,00 paid over: a chargeback of 3,00 takes only that, the invoice stays paid.
    invoice = issue(personas, dt.date(2026, 1, 5))
    total = invoice.total_cents
    paid = online(invoice, pay(personas, invoice, total + 500, dt.date(2026, 1, 10)))
    charge_back(paid, 300, local(2026, 2, 12, 10))

    found = months()
    assert figures(found[dt.date(2026, 1, 1)]) == (0, 0, 0, 0, 1, total)
    assert figures(found[dt.date(2026, 2, 1)]) == (0, 0, 0, 0, 0, 0)


def test_a_payment_and_its_chargeback_in_one_month_count_nothing(personas):
    invoice = issue(personas, dt.date(2026, 2, 2))
    paid = online(invoice, pay(personas, invoice, invoice.total_cents, dt.date(2026, 2, 3)))
    charge_back(paid, invoice.total_cents, local(2026, 2, 20, 10))

    february = months()[dt.date(2026, 2, 1)]
    assert (february.paid_count, february.paid_cents) == (0, 0)
    assert february.open_count == 1


def test_an_invoice_paid_before_the_window_and_charged_back_in_it_is_open_again(personas):
    # Paid in full in January 2025, before the twelve months; the bank took it back
    # on 12 May 2025: from May on it is open (and late), and May loses the money and
    # the settled invoice.
    invoice = issue(personas, dt.date(2025, 1, 10))
    total = invoice.total_cents
    paid = online(invoice, pay(personas, invoice, total, dt.date(2025, 1, 15)))
    charge_back(paid, total, local(2025, 5, 12, 10))

    found = months()
    assert figures(found[dt.date(2025, 4, 1)]) == (0, 0, 0, 0, 0, 0)
    assert figures(found[dt.date(2025, 5, 1)]) == (1, total, 1, total, -1, -total)
    assert all(
        figures(found[month]) == (1, total, 1, total, 0, 0)
        for month in found
        if month > dt.date(2025, 5, 1)
    )
    overview = selectors.finance_overview(today=TODAY)
    assert_running_month_agrees(overview)
    assert (overview.open_count, overview.open_cents) == (1, total)
