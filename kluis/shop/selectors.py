"""Reads of the shop, each scoped to who asks."""

from __future__ import annotations

import uuid

from kluis.accounts.models import Customer
from kluis.shop.models import Order


def order_for_customer(customer: Customer, order_id: uuid.UUID) -> Order | None:
    return Order.objects.for_customer(customer).filter(pk=order_id).first()


def order_for_staff(order_id: uuid.UUID) -> Order | None:
    return Order.objects.select_related("customer").filter(pk=order_id).first()
