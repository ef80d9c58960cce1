"""The shop's say in an erasure: running orders and running services hold it back."""

from __future__ import annotations

import uuid

from django.db.models import Q
from django.utils import timezone

from kluis.rights.erasure import Blocker
from kluis.shop.models import Order, Subscription

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
            reason_nl=(
                "Er loopt nog 1 bestelling."
                if running == 1
                else f"Er lopen nog {running} bestellingen."
            ),
            reason_en=(
                "1 order is still running."
                if running == 1
                else f"{running} orders are still running."
            ),
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


def running_subscriptions(subject: uuid.UUID) -> list[Blocker]:
    today = timezone.localdate()
    running = (
        Subscription.objects.filter(customer_id=subject)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .count()
    )
    if not running:
        return []
    return [
        Blocker(
            key="shop.running_subscription",
            reason_nl=(
                "Er loopt nog 1 abonnement (hosting of domeinnaam)."
                if running == 1
                else f"Er lopen nog {running} abonnementen (hosting of domeinnamen)."
            ),
            reason_en=(
                "1 subscription (hosting or a domain name) is still running."
                if running == 1
                else f"{running} subscriptions (hosting or domain names) are still running."
            ),
            next_nl=(
                "Zeg ze op in je klantportaal; na het einde van hun periode wissen we je "
                "gegevens, behalve wat de belastingwet ons laat bewaren."
            ),
            next_en=(
                "Cancel them in your customer portal; after the end of their period we erase "
                "your data, except what tax law makes us keep."
            ),
        )
    ]
