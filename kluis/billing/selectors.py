"""Reads of billing's pages: the finance overview with its months, and the portal's invoices.

The months are rebuilt from the ledger's history, not from the invoices' current
state: an invoice's open amount at a day is its total minus the credit notes issued
up to that day and the payments booked up to it (a credit note takes its amount off
what is still open at the end of its issue date; one in full leaves nothing). What a
month "paid" is what payments booked in that month took off open invoices; a payment
beyond the open amount (an overpayment, or money for an invoice already credited) is a
refund case, not income.

Chargebacks (kluis/billing/chargebacks.py) are counted on a cash basis: the money left
us on the day the provider received the chargeback (`received_at`, in local time), so
that month's "paid" goes down by what the chargeback took of the money that had been
counted as income, and the invoice is open again from that day. A chargeback the
bank later withdrew counts again on the day of its reversal (`reversed_at`), as a
payment booked that day. The payment's own month keeps what it took in; a month's
"paid" can therefore be negative. The count goes with the money: a chargeback that
opens a settled invoice again counts one settled invoice fewer in its month, and a
withdrawal that settles it again one more, so the months add up to the invoices
settled now. An invoice paid before the first month and charged back in it is open
again from that day, as any other. Not the day kluis heard of it, nor the payout that
deducted it: the provider's date is the one a late webhook cannot move.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.billing.chargebacks import recent_chargebacks
from kluis.billing.models import (
    Chargeback,
    Invoice,
    InvoiceQuerySet,
    Payment,
    PayoutCheck,
    Refund,
)
from kluis.billing.payouts import payouts_to_review
from kluis.policy.enforce import Actor
from kluis.vault.reveal import reveal_many

# The purpose under which a customer reads the account their own payments came from.
PAYMENT_PURPOSE = "payment_matching"
OPEN_ITEMS_SHOWN = 200


# --- the months of the finance overview --------------------------------------------------


@dataclass(frozen=True)
class MonthFigures:
    """One month of the chart: what was open and overdue at `cutoff`, what it paid.

    `cutoff` is the month's last day, or today for the running month.
    """

    month: dt.date  # its first day
    cutoff: dt.date
    open_count: int
    open_cents: int
    overdue_count: int
    overdue_cents: int
    # Invoices that a payment booked in this month settled in full, less those a
    # chargeback of this month opened again (so it can be negative, as `paid_cents`).
    paid_count: int
    # What payments took off open invoices, less what chargebacks of this month took
    # back (so it can be negative); a withdrawn chargeback counts as a payment.
    paid_cents: int


def _month_back(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _sum_per_invoice(rows: QuerySet[Any], link: str, amount: str) -> Coalesce:
    """The sum of `amount` over `rows` that `link` to the outer invoice, else 0."""
    return Coalesce(
        Subquery(
            rows.filter(**{link: OuterRef("pk")})
            .order_by()
            .values(link)
            .annotate(total=Sum(amount))
            .values("total"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _owed(total: int, notes: list[tuple[dt.date, int]], day: dt.date, *, through: bool) -> int:
    """The total less the credit notes issued before `day` (`through`: or on it).

    A credit note counts from the end of its issue date: a payment booked that day is
    taken off what was owed before it."""
    return total - sum(cents for on, cents in notes if on < day or (through and on == day))


def finance_months(*, today: dt.date | None = None, months: int = 12) -> list[MonthFigures]:
    """Open, overdue and paid for each of the last `months` months, oldest first.

    Four queries whatever the number of invoices: the invoices that still had
    something open at the start of the first month or were issued since, their credit
    notes, their payments and their chargebacks.
    """
    today = today or timezone.localdate()
    this_month = today.replace(day=1)
    firsts = [_month_back(this_month, back) for back in range(months - 1, -1, -1)]
    cutoffs = [_month_end(first) for first in firsts[:-1]] + [today]
    start = firsts[0]
    zone = timezone.get_current_timezone()
    start_at = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    # Chargebacks standing at the start of the first month: received before it and
    # not withdrawn before it.
    charged_back_before = Chargeback.objects.filter(received_at__lt=start_at).exclude(
        reversed_at__lt=start_at
    )

    relevant = (
        Invoice.objects.filter(kind=Invoice.Kind.INVOICE, issue_date__lte=today)
        .annotate(
            paid_before=_sum_per_invoice(
                Payment.objects.filter(booking_date__lt=start), "invoice", "amount_cents"
            ),
            # What credit notes issued before the first month took off (negative).
            credited_before=_sum_per_invoice(
                Invoice.objects.filter(issue_date__lt=start), "corrects", "total_cents"
            ),
            charged_back_before=_sum_per_invoice(charged_back_before, "invoice", "amount_cents"),
        )
        .filter(
            Q(total_cents__gt=F("paid_before") - F("charged_back_before") - F("credited_before"))
            # Paid before the first month and charged back since: open again in it.
            | Q(pk__in=Chargeback.objects.filter(received_at__gte=start_at).values("invoice_id"))
        )
        .order_by()
    )
    invoices = list(relevant.values_list("pk", "issue_date", "due_date", "total_cents"))
    # Money in (payments, withdrawn chargebacks: positive) and out (chargebacks:
    # negative) per invoice, by day; on one day money in comes before money out.
    payments: dict[uuid.UUID, list[tuple[dt.date, int]]] = {pk: [] for pk, *_ in invoices}
    credits: dict[uuid.UUID, list[tuple[dt.date, int]]] = {pk: [] for pk, *_ in invoices}
    if invoices:
        for invoice_id, issued, cents in (
            Invoice.objects.filter(corrects__in=relevant.values("pk"), issue_date__lte=today)
            .order_by("issue_date", "number")
            .values_list("corrects_id", "issue_date", "total_cents")
        ):
            if invoice_id in credits:
                credits[invoice_id].append((issued, -cents))
        for invoice_id, booked, cents in (
            Payment.objects.filter(invoice__in=relevant.values("pk"), booking_date__lte=today)
            .order_by("booking_date", "entry_reference")
            .values_list("invoice_id", "booking_date", "amount_cents")
        ):
            # An invoice issued between the two queries has no list: next time.
            if invoice_id in payments:
                payments[invoice_id].append((booked, cents))
        end_at = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        for invoice_id, received_at, reversed_at, cents in (
            Chargeback.objects.filter(invoice__in=relevant.values("pk"), received_at__lt=end_at)
            .order_by()
            .values_list("invoice_id", "received_at", "reversed_at", "amount_cents")
        ):
            if invoice_id not in payments:
                continue
            payments[invoice_id].append((timezone.localdate(received_at, zone), -cents))
            if reversed_at is not None and reversed_at < end_at:
                payments[invoice_id].append((timezone.localdate(reversed_at, zone), cents))
        for received in payments.values():
            # Stable: payments keep their booking order; a day's money out comes last.
            received.sort(key=lambda event: (event[0], event[1] < 0))

    open_count = [0] * months
    open_cents = [0] * months
    overdue_count = [0] * months
    overdue_cents = [0] * months
    paid_count = [0] * months
    paid_cents = [0] * months

    def month_of(day: dt.date) -> int | None:
        index = (day.year - start.year) * 12 + day.month - start.month
        return index if 0 <= index < months else None

    for pk, issued, due, total in invoices:
        received = payments[pk]
        notes = credits[pk]
        # What each payment took off the invoice, in booking order; what a chargeback
        # took back of that (money beyond what the invoice asked, which was never
        # counted, goes back first).
        paid = 0
        counted = 0  # of `paid`, what was counted as paid in some month
        for booked, cents in received:
            index = month_of(booked)
            if cents < 0:
                taken = min(max(-cents - (paid - counted), 0), counted)
                owed = _owed(total, notes, booked, through=False)
                settled = owed > 0 and paid >= owed
                paid += cents
                counted -= taken
                if index is not None:
                    paid_cents[index] -= taken
                    if settled and paid < owed:
                        # It reopens an invoice counted as settled: one settled fewer.
                        paid_count[index] -= 1
                continue
            left = _owed(total, notes, booked, through=False) - paid
            applied = min(cents, max(left, 0))
            paid += cents
            counted += applied
            if index is not None and applied > 0:
                paid_cents[index] += applied
                if applied == left:
                    paid_count[index] += 1
        # What was still open at each cutoff.
        position, paid = 0, 0
        for index, cutoff in enumerate(cutoffs):
            while position < len(received) and received[position][0] <= cutoff:
                paid += received[position][1]
                position += 1
            if issued > cutoff:
                continue
            outstanding = _owed(total, notes, cutoff, through=True) - paid
            if outstanding <= 0:
                continue
            open_count[index] += 1
            open_cents[index] += outstanding
            if due < cutoff:
                overdue_count[index] += 1
                overdue_cents[index] += outstanding

    return [
        MonthFigures(
            month=firsts[i],
            cutoff=cutoffs[i],
            open_count=open_count[i],
            open_cents=open_cents[i],
            overdue_count=overdue_count[i],
            overdue_cents=overdue_cents[i],
            paid_count=paid_count[i],
            paid_cents=paid_cents[i],
        )
        for i in range(months)
    ]


# --- the rest of the finance overview ----------------------------------------------------


@dataclass(frozen=True)
class OpenItem:
    invoice: Invoice
    open_cents: int
    days_overdue: int  # 0 while it is not due yet


@dataclass(frozen=True)
class FinanceOverview:
    today: dt.date
    open_count: int
    open_cents: int
    overdue_count: int
    overdue_cents: int
    months: list[MonthFigures]
    open_items: list[OpenItem]  # overdue first, at most OPEN_ITEMS_SHOWN
    proposed_payments: int
    unmatched_payments: int
    refunds_to_decide: int
    refunds_to_export: int
    # Payouts of the payment provider that differ from their payments, or could not
    # be checked (kluis/billing/payouts.py).
    payouts_to_review: list[PayoutCheck]
    # Online payments the payer's bank took back lately (kluis/billing/chargebacks.py).
    chargebacks: list[Chargeback]

    @property
    def this_month(self) -> MonthFigures:
        return self.months[-1]

    @property
    def open_items_hidden(self) -> int:
        return self.open_count - len(self.open_items)


def open_invoices() -> InvoiceQuerySet:
    """Invoices with money still to come in, now: something left of the total after
    credit notes and payments."""
    return Invoice.objects.filter(
        kind=Invoice.Kind.INVOICE,
        credited_at__isnull=True,
        paid_cents__lt=F("total_cents") - F("credited_cents"),
    )


def finance_overview(*, today: dt.date | None = None) -> FinanceOverview:
    """Everything on finance's landing page, in a fixed number of queries."""
    today = today or timezone.localdate()
    invoices = open_invoices()
    outstanding = F("total_cents") - F("credited_cents") - F("paid_cents")
    overdue = Q(due_date__lt=today)
    totals = invoices.aggregate(
        open_count=Count("pk"),
        open_cents=Coalesce(Sum(outstanding), 0),
        overdue_count=Count("pk", filter=overdue),
        overdue_cents=Coalesce(Sum(outstanding, filter=overdue), 0),
    )
    unlinked = Payment.objects.filter(invoice__isnull=True).aggregate(
        proposed=Count("pk", filter=Q(match=Payment.Match.PROPOSED)),
        unmatched=Count("pk", filter=Q(match=Payment.Match.NONE)),
    )
    refunds = Refund.objects.aggregate(
        to_decide=Count("pk", filter=Q(status=Refund.Status.PROPOSED)),
        to_export=Count("pk", filter=Q(status=Refund.Status.APPROVED)),
    )
    items = [
        OpenItem(
            invoice=invoice,
            open_cents=invoice.open_cents,
            days_overdue=max((today - invoice.due_date).days, 0),
        )
        for invoice in invoices.select_related("customer").order_by("due_date", "number")[
            :OPEN_ITEMS_SHOWN
        ]
    ]
    return FinanceOverview(
        today=today,
        open_count=totals["open_count"],
        open_cents=totals["open_cents"],
        overdue_count=totals["overdue_count"],
        overdue_cents=totals["overdue_cents"],
        months=finance_months(today=today),
        open_items=items,
        proposed_payments=unlinked["proposed"],
        unmatched_payments=unlinked["unmatched"],
        refunds_to_decide=refunds["to_decide"],
        refunds_to_export=refunds["to_export"],
        payouts_to_review=payouts_to_review(),
        chargebacks=recent_chargebacks(),
    )


def invoice_for_staff(invoice_id: uuid.UUID) -> Invoice | None:
    return Invoice.objects.select_related("customer", "corrects").filter(pk=invoice_id).first()


# --- the customer's invoices in the portal ---------------------------------------------


def customer_invoice(customer: Customer, invoice_id: uuid.UUID) -> Invoice | None:
    """One invoice of the customer's (None for another's: the portal and the API 404)."""
    return (
        Invoice.objects.for_customer(customer)
        .select_related("customer", "corrects")
        .filter(pk=invoice_id)
        .first()
    )


def portal_invoices(customer: Customer) -> list[Invoice]:
    """The customer's invoices, newest first, each with its payments (and what the
    payer's bank took back of each), refunds and lines (for the period it covers)."""
    return list(
        Invoice.objects.for_customer(customer)
        .order_by("-issued_at")
        .prefetch_related(
            "payments",
            Prefetch(
                "payments__chargebacks",
                queryset=Chargeback.objects.order_by("received_at", "pk"),
            ),
            "refunds",
            "credit_notes",
            "lines",
        )
    )


def payment_iban_tails(invoices: Sequence[Invoice], customer: Customer) -> dict[uuid.UUID, str]:
    """The last four characters of the account each payment came from, by payment.

    Read by the customer themself for matching payments. A payment on an invoice is
    sealed under that invoice's customer (matched at import, or sealed again when
    finance links it); the subject check keeps a page from ever asking to reveal
    another subject's data.
    """
    own = [
        payment
        for invoice in invoices
        for payment in invoice.payments.all()
        if payment.subject == customer.id and payment.iban is not None
    ]
    values = reveal_many(own, ["iban"], purpose=PAYMENT_PURPOSE, actor=Actor.subject(customer.id))
    return {
        payment.pk: iban[-4:]
        for payment, revealed in zip(own, values, strict=True)
        if (iban := revealed["iban"])
    }


@dataclass(frozen=True)
class UnmatchedPayment:
    payment: Payment
    holder: str
    remittance: str


def unmatched_payments(actor: Actor, *, limit: int = 200) -> list[UnmatchedPayment]:
    """Payments no rule could match, oldest first, with what finance needs to place
    them: the payer's name and the description, revealed for payment matching."""
    rows = list(
        Payment.objects.filter(match=Payment.Match.NONE, invoice__isnull=True).order_by(
            "booking_date", "entry_reference"
        )[:limit]
    )
    values = reveal_many(rows, ["holder", "remittance"], purpose="payment_matching", actor=actor)
    return [
        UnmatchedPayment(row, plain["holder"] or "", plain["remittance"] or "")
        for row, plain in zip(rows, values, strict=True)
    ]
