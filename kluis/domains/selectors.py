"""Reads of the domains app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from kluis.domains import shop_link
from kluis.domains.emails import dedupe_key
from kluis.domains.models import DomainRegistration, DomainRenewal, PollMessage
from kluis.domains.registries import REGISTRIES
from kluis.mail.models import OutboxMessage

# What the domains desk shows first: what needs a person, then what waits.
_ORDER = [
    DomainRegistration.Status.FAILED,
    DomainRegistration.Status.REFUSED,
    DomainRegistration.Status.PENDING,
    DomainRegistration.Status.TRANSFER_PENDING,
    DomainRegistration.Status.TRANSFERRED,
    DomainRegistration.Status.DELETED,
    DomainRegistration.Status.REGISTERED,
]


@dataclass(frozen=True)
class DeskRow:
    registration: DomainRegistration
    domain: str
    registry: str
    can_retry: bool
    # The customer's failure mail: None (none queued), "queued", "sent" or "failed".
    mail: str | None = None
    # Pending, but the registry could not be reached on several runs in a row.
    stuck: bool = False


STUCK_AFTER = 3  # attempts


def desk_rows(*, registered_limit: int = 50) -> list[DeskRow]:
    rows: list[DeskRow] = []
    mails = dict(
        OutboxMessage.objects.filter(dedupe_key__startswith="domains:").values_list(
            "dedupe_key", "status"
        )
    )
    for status in _ORDER:
        found = DomainRegistration.objects.filter(status=status).select_related(
            "order", "line", "line__extension"
        )
        if status in (
            DomainRegistration.Status.REGISTERED,
            DomainRegistration.Status.TRANSFERRED,
            DomainRegistration.Status.DELETED,
        ):
            found = found.order_by("-registered_at")[:registered_limit]
        for registration in found:
            registry = REGISTRIES.get(registration.registry)
            rows.append(
                DeskRow(
                    registration=registration,
                    domain=shop_link.domain_masked(registration.line),
                    registry=registry.name if registry else "—",
                    can_retry=registration.can_retry,
                    mail=mails.get(dedupe_key(registration)),
                    stuck=status == DomainRegistration.Status.PENDING
                    and registration.attempts >= STUCK_AFTER,
                )
            )
    return rows


def recent_poll_messages(limit: int = 50) -> list[PollMessage]:
    return list(PollMessage.objects.all()[:limit])


@dataclass(frozen=True)
class RenewalRow:
    renewal: DomainRenewal
    domain: str
    registry: str


def renewal_rows(limit: int = 50) -> list[RenewalRow]:
    """Failed renewals first, then those waiting (for us or for a registry that renews by
    itself), then the latest done."""
    found = DomainRenewal.objects.select_related(
        "registration__order", "registration__line__extension"
    )
    ordered = [
        *found.filter(status=DomainRenewal.Status.FAILED),
        *found.filter(status=DomainRenewal.Status.PENDING),
        *found.filter(status=DomainRenewal.Status.AWAITING),
        *found.filter(
            status__in=[DomainRenewal.Status.RENEWED, DomainRenewal.Status.BY_REGISTRY]
        ).order_by("-renewed_at")[:limit],
    ]
    return [
        RenewalRow(
            renewal=r,
            domain=shop_link.domain_masked(r.registration.line),
            registry=REGISTRIES[r.registration.registry].name
            if r.registration.registry in REGISTRIES
            else "—",
        )
        for r in ordered
    ]


@dataclass(frozen=True)
class EndingRow:
    registration: DomainRegistration
    domain: str
    registry: str
    # The day it is deleted unless paid (kluis.domains.expiry.end_day).
    ends_on: dt.date
    # The notices mailed for the current term, in days before the end day.
    notices: tuple[int, ...]


def ending_rows(limit: int = 100) -> list[EndingRow]:
    """Unpaid domains whose end day lies within the notice window (or passed): deleted
    on it (their expiry, or before it at a registry that renews by itself) unless the
    renewal invoice is paid first."""
    from kluis.domains.expiry import NOTICE_DAYS, end_day, ending_by, notice_key, unpaid

    soon = timezone.localdate() + dt.timedelta(days=max(NOTICE_DAYS))
    found = list(
        unpaid()
        .filter(ending_by(soon))
        .select_related("order", "line", "line__extension")
        .order_by("expires_on")[:limit]
    )
    keys = {notice_key(r, days): (r.pk, days) for r in found for days in NOTICE_DAYS}
    mailed: dict[int, list[int]] = {}
    for key in OutboxMessage.objects.filter(dedupe_key__in=list(keys)).values_list(
        "dedupe_key", flat=True
    ):
        pk, days = keys[key]
        mailed.setdefault(pk, []).append(days)
    return [
        EndingRow(
            registration=r,
            domain=shop_link.domain_masked(r.line),
            registry=REGISTRIES[r.registry].name if r.registry in REGISTRIES else "—",
            ends_on=end_day(r),
            notices=tuple(sorted(mailed.get(r.pk, []), reverse=True)),
        )
        for r in found
    ]
