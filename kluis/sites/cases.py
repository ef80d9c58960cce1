"""The sites' case: a customer's open help request lets support read it."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kluis.policy.cases import case_kind
from kluis.sites.models import HelpRequest


def _open(subject: uuid.UUID) -> list[tuple[str, str]]:
    found = HelpRequest.objects.filter(customer_id=subject).exclude(
        status=HelpRequest.Status.CLOSED
    )
    return [(str(h.pk), _("hulpvraag %(reference)s") % {"reference": h.reference}) for h in found]


def _describe(case_id: str) -> str:
    try:
        reference = (
            HelpRequest.objects.filter(pk=case_id).values_list("reference", flat=True).first()
        )
    except ValidationError:
        reference = None
    return _("hulpvraag %(reference)s") % {"reference": reference} if reference else _("hulpvraag")


@case_kind("help_request", open_for=_open, describe=_describe)
def _help_request_holds(case_id: str, subject: uuid.UUID) -> bool:
    try:
        return (
            HelpRequest.objects.filter(pk=case_id, customer_id=subject)
            .exclude(status=HelpRequest.Status.CLOSED)
            .exists()
        )
    except ValidationError:
        return False
