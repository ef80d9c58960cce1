"""Reads of the domains app."""

from __future__ import annotations

from dataclasses import dataclass

from kluis.domains import shop_link
from kluis.domains.models import DomainRegistration, PollMessage
from kluis.domains.registries import REGISTRIES

# What the domains desk shows first: what needs a person, then what waits.
_ORDER = [
    DomainRegistration.Status.FAILED,
    DomainRegistration.Status.REFUSED,
    DomainRegistration.Status.PENDING,
    DomainRegistration.Status.REGISTERED,
]


@dataclass(frozen=True)
class DeskRow:
    registration: DomainRegistration
    domain: str
    registry: str
    can_retry: bool


def desk_rows(*, registered_limit: int = 50) -> list[DeskRow]:
    rows: list[DeskRow] = []
    for status in _ORDER:
        found = DomainRegistration.objects.filter(status=status).select_related(
            "order", "line", "line__extension"
        )
        if status == DomainRegistration.Status.REGISTERED:
            found = found.order_by("-registered_at")[:registered_limit]
        for registration in found:
            registry = REGISTRIES.get(registration.registry)
            rows.append(
                DeskRow(
                    registration=registration,
                    domain=shop_link.domain_masked(registration.line),
                    registry=registry.name if registry else "—",
                    can_retry=registration.can_retry,
                )
            )
    return rows


def recent_poll_messages(limit: int = 50) -> list[PollMessage]:
    return list(PollMessage.objects.all()[:limit])
