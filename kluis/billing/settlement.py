"""What happens elsewhere when an invoice becomes paid.

Billing does not know about orders or reminders; the apps that do register a
handler here (in their AppConfig.ready), and billing calls every handler inside the
transaction that records the payment which settled the invoice. A handler that
raises rolls the payment back with it, so a payment is never half-applied.

A statement import settles thousands of invoices per batch; a handler that can take
them at once registers that form too (`many=`), so it runs a few queries per batch
rather than a few per invoice. Either way each handler hears of each invoice once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kluis.billing.models import Invoice

PaidHandler = Callable[["Invoice"], None]
ManyPaidHandler = Callable[[Sequence["Invoice"]], None]

_handlers: list[PaidHandler] = []
_many: dict[PaidHandler, ManyPaidHandler] = {}


def register_paid_handler(
    handler: PaidHandler, *, many: ManyPaidHandler | None = None
) -> PaidHandler:
    if handler not in _handlers:
        _handlers.append(handler)
    if many is not None:
        _many[handler] = many
    return handler


def unregister_paid_handler(handler: PaidHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)
    _many.pop(handler, None)


def invoice_paid(invoice: Invoice) -> None:
    """Tell every registered handler that `invoice` has just been paid in full."""
    for handler in list(_handlers):
        handler(invoice)


def invoices_paid(invoices: Sequence[Invoice]) -> None:
    """Tell every registered handler that each of `invoices` has just been paid in full."""
    if not invoices:
        return
    for handler in list(_handlers):
        many = _many.get(handler)
        if many is not None:
            many(invoices)
        else:
            for invoice in invoices:
                handler(invoice)
