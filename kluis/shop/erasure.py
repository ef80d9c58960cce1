"""The shop's say in an erasure: orders still being handled hold it back."""

from __future__ import annotations

import uuid

from kluis.rights.erasure import Blocker
from kluis.shop.models import Order

RUNNING = (
    Order.Status.RECEIVED,
    Order.Status.AWAITING_PAYMENT,
    Order.Status.PAID,
    Order.Status.IN_PROGRESS,
)


def running_orders(subject: uuid.UUID) -> list[Blocker]:
    running = Order.objects.filter(customer_id=subject, status__in=RUNNING).count()
    if not running:
        return []
    return [
        Blocker(
            key="shop.running_order",
            reason_nl=f"Er lopen nog {running} bestellingen.",
            reason_en=f"{running} order(s) are still running.",
            next_nl=(
                "Annuleer ze of laat ze afronden; daarna wissen we je gegevens, behalve wat "
                "de belastingwet ons laat bewaren."
            ),
            next_en=(
                "Cancel them or let them finish; then we erase your data, except what tax "
                "law makes us keep."
            ),
        )
    ]
