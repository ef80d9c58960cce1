"""Billing's cases: the hand-over of a customer's unpaid invoice to the debt collector."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _

from kluis.billing.models import CollectionHandover
from kluis.policy.cases import case_kind


def _active(subject: uuid.UUID) -> list[tuple[str, str]]:
    handovers = CollectionHandover.objects.filter(
        invoice__customer_id=subject, status__in=CollectionHandover.ACTIVE
    ).select_related("invoice")
    return [(str(h.pk), _describe_handover(h)) for h in handovers]


def _describe_handover(handover: CollectionHandover) -> str:
    return _("overdracht van factuur %(number)s aan het incassobureau") % {
        "number": handover.invoice.number
    }


def _describe(case_id: str) -> str:
    try:
        handover = CollectionHandover.objects.select_related("invoice").get(pk=int(case_id))
    except (ValueError, CollectionHandover.DoesNotExist):
        return _("overdracht aan het incassobureau")
    return _describe_handover(handover)


@case_kind("collection_handover", open_for=_active, describe=_describe)
def _handover_holds(case_id: str, subject: uuid.UUID) -> bool:
    try:
        pk = int(case_id)
    except ValueError:
        return False
    return CollectionHandover.objects.filter(
        pk=pk, invoice__customer_id=subject, status__in=CollectionHandover.ACTIVE
    ).exists()
