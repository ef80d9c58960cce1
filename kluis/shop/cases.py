"""The shop's cases: an open order of the customer (not yet delivered or cancelled)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kluis.policy.cases import case_kind
from kluis.shop.models import Order

OPEN = (
    Order.Status.RECEIVED,
    Order.Status.AWAITING_PAYMENT,
    Order.Status.PAID,
    Order.Status.IN_PROGRESS,
)


def _open_orders(subject: uuid.UUID) -> list[tuple[str, str]]:
    orders = Order.objects.filter(customer_id=subject, status__in=OPEN).order_by("created_at")
    return [(str(o.pk), _("bestelling %(number)s") % {"number": o.number}) for o in orders]


def _describe(case_id: str) -> str:
    try:
        number = Order.objects.filter(pk=case_id).values_list("number", flat=True).first()
    except ValidationError:
        number = None
    return _("bestelling %(number)s") % {"number": number} if number else _("bestelling")


@case_kind("order", open_for=_open_orders, describe=_describe)
def _order_holds(case_id: str, subject: uuid.UUID) -> bool:
    try:
        return Order.objects.filter(pk=case_id, customer_id=subject, status__in=OPEN).exists()
    except ValidationError:
        return False
