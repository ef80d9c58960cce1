"""Billing's part when a consumer's supply stops early: credit what is not owed.

Two ways (kluis/shop/consumer.py has the rules): a withdrawal credits the order's
invoice but for what was supplied (art. 6:230s BW), and a subscription that stops
before the end of an invoiced period (a consumer's month of notice, a withdrawal)
credits that period's invoice for the days after its end. Each is a credit note on
the invoice, under the invoice's own VAT decision, and what was paid over what is
now owed becomes a refund proposal that finance takes up as for an overpayment.

Registered with the shop's hooks in BillingConfig.ready; runs inside the shop's
transaction, so a credit that cannot be made refuses the withdrawal or the end. An
invoice takes several credit notes (a renewal invoice of two subscriptions ended one
after the other), together never more than its total.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.utils import timezone
from django.utils.translation import gettext, override

from kluis.accounts.models import User
from kluis.billing import services
from kluis.billing.models import Invoice, Refund
from kluis.formats import long_date
from kluis.shop import consumer
from kluis.shop import services as shop_services
from kluis.shop.domains import domains_reveal
from kluis.shop.models import Order, Subscription, SubscriptionRenewal


def order_withdrawn(order: Order, by: User | None) -> None:
    """Credit the order's invoice for what the consumer does not owe."""
    invoice = Invoice.objects.filter(order=order, kind=Invoice.Kind.INVOICE).first()
    if invoice is None or invoice.credited_at is not None:
        return  # not invoiced, or cancelled in full: nothing is owed on it
    assert order.withdrawn_at is not None
    supplied = consumer.withdrawal_supplied(order, timezone.localdate(order.withdrawn_at))
    credited = [s for s in supplied if s.credit_cents > 0]
    domains = domains_reveal(
        [s.line for s in credited], purpose="invoicing", actor=services.BILLING
    )
    with override(invoice.language):
        lines = [
            services.LineInput(
                gettext("Herroeping: %(line)s") % {"line": s.line.description[:250]},
                -s.credit_cents,
                domain=domain,
            )
            for s, domain in zip(credited, domains, strict=True)
        ]
    _credit(invoice, lines, by)


def subscriptions_shortened(items: list[tuple[Subscription, dt.date]], by: User | None) -> None:
    """Credit every invoiced renewal period for its days from each first free day on."""
    per_invoice: dict[str, list[tuple[SubscriptionRenewal, int]]] = defaultdict(list)
    for subscription, first_free in items:
        renewals = SubscriptionRenewal.objects.filter(
            subscription=subscription, period_end__gte=first_free
        ).exclude(invoice_number="")
        for renewal in renewals:
            days = (renewal.period_end - renewal.period_start).days + 1
            unused = (renewal.period_end - max(first_free, renewal.period_start)).days + 1
            cents = round(renewal.price_cents * unused / days)
            if cents > 0:
                per_invoice[renewal.invoice_number].append((renewal, cents))
    for number, credits in per_invoice.items():
        invoice = Invoice.objects.get(number=number)
        domains = domains_reveal(
            [renewal.subscription for renewal, _cents in credits],
            purpose="invoicing",
            actor=services.BILLING,
        )
        with override(invoice.language):
            lines = [
                services.LineInput(
                    gettext("Beëindigd per %(day)s: %(name)s, %(start)s t/m %(end)s")
                    % {
                        "day": long_date(max(renewal.period_start, _first_free(items, renewal))),
                        "name": renewal.subscription.name(invoice.language)[:200],
                        "start": long_date(renewal.period_start),
                        "end": long_date(renewal.period_end),
                    },
                    -cents,
                    domain=domain,
                )
                for (renewal, cents), domain in zip(credits, domains, strict=True)
            ]
        _credit(invoice, lines, by)


def _first_free(items: list[tuple[Subscription, dt.date]], renewal: SubscriptionRenewal) -> dt.date:
    return next(day for s, day in items if s.pk == renewal.subscription_id)


def _credit(invoice: Invoice, lines: list[services.LineInput], by: User | None) -> None:
    if not lines:
        return
    try:
        services.credit_note_issue(invoice=invoice, issued_by=by, lines=lines)
    except services.BillingError as exc:
        # More than is left of the invoice (over_credited), or it was cancelled in full.
        code = "over_credited" if exc.code == "over_credited" else "not_credited"
        raise shop_services.ShopError(code) from None
    _refund_over_owed(invoice)


def _refund_over_owed(invoice: Invoice) -> list[Refund]:
    """Propose paying back what was paid on `invoice` over what is owed after its credits."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    owed = locked.due_cents  # the total less every credit note on it
    proposed = sum(
        r.amount_cents
        for r in Refund.objects.filter(invoice=locked).exclude(status__in=Refund.NOT_PAID_BACK)
    )
    left = locked.paid_cents - owed - proposed
    made = []
    for payment in locked.payments.order_by("-pk"):
        if left <= 0:
            break
        taken = services.taken_from(payment)
        amount = min(payment.amount_cents - taken, left)
        if amount > 0:
            made.append(Refund.objects.create(invoice=locked, payment=payment, amount_cents=amount))
            left -= amount
    return made
