"""The first period on the invoice lines of orders delivered before lines had periods.

Delivery writes on each order invoice line the first period of its subscription
(kluis/billing/orders.py); orders delivered before that have lines without one.
Where it can be derived it is filled in now, as delivery would have written it:

- the invoice is the order's (not a credit note), line for line with the order (the
  same number of lines, paired by position), and the line has no period yet;
- the line's subscription exists; its first period starts on `started_on` and ends
  where delivery left it: the current period's end while the subscription has not
  moved on (period_start is still started_on), else the day before the first renewal
  invoiced, else the end computed from its length (a month or a year, kept to the
  day of the month it started on, as kluis.shop.models.period_after does).

Other lines are left as they are. The invoice itself is not touched: it was issued.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from django.db import migrations


def _period_after(start: dt.date, period: str, anchor_day: int) -> dt.date:
    # As kluis.shop.models.period_after, kept here as it was when this was written.
    months = 12 if period == "year" else 1
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(anchor_day, last_day))


def first_period(subscription: Any, first_renewal: dt.date | None) -> tuple[dt.date, dt.date]:
    start = subscription.started_on
    if first_renewal is None and subscription.period_start == start:
        return start, subscription.period_end
    if first_renewal is not None:
        return start, first_renewal - dt.timedelta(days=1)
    return start, _period_after(start, subscription.period, start.day) - dt.timedelta(days=1)


def first_periods_fill(apps: Any, schema_editor: Any) -> None:
    Invoice = apps.get_model("billing", "Invoice")
    InvoiceLine = apps.get_model("billing", "InvoiceLine")
    Subscription = apps.get_model("shop", "Subscription")
    SubscriptionRenewal = apps.get_model("shop", "SubscriptionRenewal")
    invoices = Invoice.objects.filter(
        kind="invoice",
        order__status="delivered",
        lines__period_start__isnull=True,
    ).distinct()
    for invoice in invoices.iterator():
        invoice_lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
        order_lines = list(invoice.order.lines.order_by("position"))
        if len(invoice_lines) != len(order_lines):
            continue  # not invoiced line for line: nothing to pair
        subscriptions = {s.line_id: s for s in Subscription.objects.filter(line__in=order_lines)}
        for invoiced, line in zip(invoice_lines, order_lines, strict=True):
            subscription = subscriptions.get(line.pk)
            if subscription is None or invoiced.period_start is not None:
                continue
            renewal = (
                SubscriptionRenewal.objects.filter(subscription=subscription)
                .order_by("period_start")
                .values_list("period_start", flat=True)
                .first()
            )
            start, end = first_period(subscription, renewal)
            if end < start:
                continue
            InvoiceLine.objects.filter(pk=invoiced.pk, period_start__isnull=True).update(
                period_start=start, period_end=end
            )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0022_payout_refunds_chargebacks"),
        ("shop", "0012_withdrawalrequest"),
    ]

    operations = [migrations.RunPython(first_periods_fill, migrations.RunPython.noop)]
