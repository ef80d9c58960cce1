"""What happens elsewhere when an invoice becomes paid.

Billing does not know about orders or reminders; the apps that do register a
handler here (in their AppConfig.ready), and billing calls every handler inside the
transaction that records the payment which settled the invoice. A handler that
raises rolls the payment back with it, so a payment is never half-applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kluis.billing.models import Invoice

PaidHandler = Callable[["Invoice"], None]

_handlers: list[PaidHandler] = []


def register_paid_handler(handler: PaidHandler) -> PaidHandler:
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def unregister_paid_handler(handler: PaidHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def invoice_paid(invoice: Invoice) -> None:
    """Tell every registered handler that `invoice` has just been paid in full."""
    for handler in list(_handlers):
        handler(invoice)
