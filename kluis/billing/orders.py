"""Billing's part in the life of an order: invoiced when it awaits payment, credited
when it is cancelled before it was paid in full (what was paid is proposed for a
refund), moved on to paid when its invoice is paid.

Billing depends on the shop, not the other way round: the shop calls these through
its move hook (kluis/shop/moves.py) and billing's settlement calls order_paid; both
are registered in BillingConfig.ready.
"""

from __future__ import annotations

from collections.abc import Sequence

from kluis.accounts.models import User
from kluis.billing import services, withdrawals
from kluis.billing.models import Invoice, InvoiceLine
from kluis.billing.vat import VatError
from kluis.shop import services as shop_services
from kluis.shop.models import Order, Subscription


def order_moved(order: Order, before: str, by: User | None) -> bool:
    """Issue the invoice of an order that now awaits payment; credit one cancelled unpaid.

    Returns True when the customer was mailed the invoice: that mail tells them the
    order awaits payment, so the shop sends no status mail besides it.
    """
    if order.status == Order.Status.AWAITING_PAYMENT:
        try:
            invoice = services.invoice_issue(order=order, issued_by=by)
        except (services.BillingError, VatError):
            raise shop_services.ShopError("not_invoiced") from None
        return invoice.customer.email is not None
    if order.status == Order.Status.CANCELLED:
        _credit_unpaid(order, by)
    if order.status == Order.Status.WITHDRAWN:
        withdrawals.order_withdrawn(order, by)
    if order.status == Order.Status.DELIVERED:
        _first_periods_record(order)
    return False


def _first_periods_record(order: Order) -> None:
    """Write on the order's invoice lines the first period each subscription runs.

    An order is invoiced before it is delivered, and its subscriptions start on the
    day of delivery, so the invoice says "first period (1 year) from delivery". Once
    delivered, that period is known: each line gets its first and last day, once (a
    line that has a period keeps it), and the PDF and the portal name it.
    """
    invoice = Invoice.objects.filter(order=order, kind=Invoice.Kind.INVOICE).first()
    if invoice is None:
        return
    order_lines = list(order.lines.order_by("position"))
    invoice_lines = list(invoice.lines.order_by("position"))
    if len(order_lines) != len(invoice_lines):
        return  # not invoiced line for line: nothing to pair
    first = {
        s.line_id: (s.started_on, s.period_end)
        for s in Subscription.objects.filter(line__order=order)
    }
    for invoiced, line in zip(invoice_lines, order_lines, strict=True):
        period = first.get(line.pk)
        if period is not None:
            InvoiceLine.objects.filter(pk=invoiced.pk, period_start__isnull=True).update(
                period_start=period[0], period_end=period[1]
            )


def _credit_unpaid(order: Order, by: User | None) -> None:
    invoice = Invoice.objects.filter(order=order, kind=Invoice.Kind.INVOICE).first()
    if invoice is None or invoice.is_paid or invoice.credit_notes.exists():
        return
    try:
        services.credit_note_issue(invoice=invoice, issued_by=by)
        if invoice.paid_cents:
            services.credit_refunds_propose(invoice=invoice)
    except services.BillingError:
        raise shop_services.ShopError("not_credited") from None


def order_paid(invoice: Invoice) -> None:
    """A settled order invoice moves its order from awaiting payment to paid."""
    if invoice.kind != Invoice.Kind.INVOICE or invoice.order_id is None:
        return
    order = Order.objects.get(pk=invoice.order_id)
    shop_services.order_pay(order=order, invoice_number=invoice.number)


def orders_paid(invoices: Sequence[Invoice]) -> None:
    """The same for a batch of a statement import: only order invoices have work."""
    for invoice in invoices:
        if invoice.order_id is not None:
            order_paid(invoice)
