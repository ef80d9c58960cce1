"""The customer's domains: what the portal's domain list shows, through the same reveal.

Changing nameservers and asking for an auth code go over EPP to the registry
(kluis/domains/lifecycle.py); they are not operations here yet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from kluis.api.auth import caller_of, customer_of, guard
from kluis.api.problems import Problem
from kluis.api.schemas import ERRORS
from kluis.domains import lifecycle, shop_link
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import REGISTRIES

router = Router(tags=["customer"])
READ = guard("domains:read")
# As the portal's domain pages (kluis/domains/portal_views.py).
PURPOSE = "contract_administration"


class DomainOut(Schema):
    id: int
    domain: str = Field(description="the name as written, in Unicode")
    status: Literal["pending", "transfer_pending", "registered", "failed", "transferred", "deleted"]
    registry: str = Field(description="the registry's name, or empty when not known")
    expires_on: dt.date | None = Field(None, description="the registry's expiry date")
    nameservers: list[str]


def _out(request: HttpRequest, registrations: list[DomainRegistration]) -> list[dict[str, Any]]:
    names = shop_link.domains_shown(
        [r.line for r in registrations], purpose=PURPOSE, actor=caller_of(request).actor
    )
    return [
        {
            "id": r.pk,
            "domain": name,
            "status": r.status,
            "registry": REGISTRIES[r.registry].name if r.registry in REGISTRIES else "",
            "expires_on": r.expires_on,
            "nameservers": list(r.nameservers),
        }
        for r, name in zip(registrations, names, strict=True)
    ]


@router.get(
    "/domains",
    response={200: list[DomainOut], **ERRORS},
    **READ,
    url_name="domains",
    summary="Your domains, newest order first",
)
def domains(request: HttpRequest) -> list[dict[str, Any]]:
    registrations = list(
        DomainRegistration.objects.filter(order__customer=customer_of(request))
        .exclude(status=DomainRegistration.Status.REFUSED)
        .select_related("line")
        .order_by("-created_at", "-pk")
    )
    return _out(request, registrations)


@router.get(
    "/domains/{registration_id}",
    response={200: DomainOut, **ERRORS},
    **READ,
    url_name="domain",
    summary="One registered domain",
)
def domain(request: HttpRequest, registration_id: int) -> dict[str, Any]:
    found = lifecycle.domain_of_customer(customer_of(request), registration_id)
    if found is None:
        raise Problem("not-found", _("Dit bestaat niet, of het is niet van jou."))
    return _out(request, [found])[0]
