"""The rights app's cases: a person's open rights request, an approved police order."""

from __future__ import annotations

import uuid

from django.db.models import Q
from django.utils.translation import gettext as _

from kluis.formats import long_date
from kluis.policy.cases import case_kind
from kluis.rights.models import PoliceRequest, RightsRequest


def _is_uuid(case_id: str) -> bool:
    try:
        uuid.UUID(str(case_id))
    except ValueError:
        return False
    return True


# Not yet answered: open, or still waiting for the requester to confirm their address.
NOT_CLOSED = (*RightsRequest.OPEN_STATUSES, RightsRequest.Status.UNCONFIRMED)


def _open_requests(subject: uuid.UUID) -> list[tuple[str, str]]:
    return [
        (str(r.pk), _describe_request(str(r.pk)))
        for r in RightsRequest.objects.filter(subject=subject, status__in=NOT_CLOSED)
    ]


def _describe_request(case_id: str) -> str:
    request = RightsRequest.objects.filter(pk=case_id).first() if _is_uuid(case_id) else None
    if request is None:
        return _("verzoek over je privacyrechten")
    return _("verzoek om %(kind)s van %(date)s") % {
        "kind": request.get_kind_display(),
        "date": long_date(request.received_at),
    }


@case_kind("rights_request", open_for=_open_requests, describe=_describe_request)
def _rights_request_holds(case_id: str, subject: uuid.UUID) -> bool:
    if not _is_uuid(case_id):
        return False
    # The request is about its subject; what the requester typed is sealed under the
    # request itself, so the request is also a case of its own.
    return (
        RightsRequest.objects.filter(Q(subject=subject) | Q(pk=subject))
        .filter(pk=case_id, status__in=NOT_CLOSED)
        .exists()
    )


def _approved_orders(subject: uuid.UUID) -> list[tuple[str, str]]:
    return [
        (str(p.pk), _describe_police(str(p.pk)))
        for p in PoliceRequest.objects.filter(subject=subject, status=PoliceRequest.Status.APPROVED)
    ]


def _describe_police(case_id: str) -> str:
    return _("vordering van politie of justitie")


@case_kind("police_request", open_for=_approved_orders, describe=_describe_police)
def _police_request_holds(case_id: str, subject: uuid.UUID) -> bool:
    try:
        pk = int(case_id)
    except ValueError:
        return False
    return PoliceRequest.objects.filter(
        pk=pk, subject=subject, status=PoliceRequest.Status.APPROVED
    ).exists()
