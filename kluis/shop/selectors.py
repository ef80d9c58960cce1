"""Reads of the shop, each scoped to who asks."""

from __future__ import annotations

import uuid

from kluis.accounts.models import Customer
from kluis.shop.models import Order, Subscription


def order_for_customer(customer: Customer, order_id: uuid.UUID) -> Order | None:
    return Order.objects.for_customer(customer).filter(pk=order_id).first()


def order_for_staff(order_id: uuid.UUID) -> Order | None:
    return Order.objects.select_related("customer").filter(pk=order_id).first()


def subscription_for_customer(customer: Customer, subscription_id: int) -> Subscription | None:
    return (
        Subscription.objects.for_customer(customer)
        .select_related("product", "extension", "line__order")
        .filter(pk=subscription_id)
        .first()
    )


def subscription_for_staff(subscription_id: int) -> Subscription | None:
    return (
        Subscription.objects.select_related("customer", "product", "extension", "line__order")
        .filter(pk=subscription_id)
        .first()
    )


def orders_waiting_for_vies() -> list[Order]:
    """Orders whose VAT waits on VIES, oldest first, each with its checks so far."""
    return list(
        Order.objects.filter(vat_status=Order.Vat.PENDING)
        .exclude(status=Order.Status.CANCELLED)
        .select_related("customer")
        .prefetch_related("vat_checks")
        .order_by("created_at")
    )
