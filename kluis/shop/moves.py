"""What happens elsewhere when an order moves to another status.

The shop does not know about invoices; billing registers a handler here (in its
AppConfig.ready), the way apps register a paid handler with billing's settlement.
Every handler runs inside the transaction of the move, after the new status is
saved: a handler that raises ShopError refuses the move and rolls it back whole.

A handler returns True when it has told the customer about this move itself (the
invoice mail is the mail of "awaiting payment"); the shop then sends no status mail
of its own, so the customer gets one mail for each change (R11).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kluis.accounts.models import User
    from kluis.shop.models import Order, Subscription

# (the order in its new status, the status it left, the staff member or None for kluis)
MoveHandler = Callable[["Order", str, "User | None"], bool]

_handlers: list[MoveHandler] = []


def register_move_handler(handler: MoveHandler) -> MoveHandler:
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def unregister_move_handler(handler: MoveHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def order_moved(order: Order, before: str, by: User | None) -> bool:
    """Tell every handler about the move; True when one of them mailed the customer."""
    told = False
    for handler in list(_handlers):
        told = handler(order, before, by) or told
    return told


# Subscriptions that stop before the end of what was invoiced for them (a consumer's
# month of notice, a withdrawal): each with the first day no longer supplied. Billing
# credits what was invoiced from that day on. Runs inside the shop's transaction; a
# handler that raises ShopError refuses the end and rolls it back whole.
ShortenedHandler = Callable[[list[tuple["Subscription", dt.date]], "User | None"], None]

_shortened: list[ShortenedHandler] = []


def register_shortened_handler(handler: ShortenedHandler) -> ShortenedHandler:
    if handler not in _shortened:
        _shortened.append(handler)
    return handler


def subscriptions_shortened(items: list[tuple[Subscription, dt.date]], by: User | None) -> None:
    for handler in list(_shortened):
        handler(items, by)
