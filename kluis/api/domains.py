"""The customer's domains: what the portal's domain list shows, through the same reveal;
the shop's availability check, and the portal's nameserver change and auth-code request.

The check is the shop's (`kluis.shop.availability.domain_check`, answered by the
domains app over EPP), rate-limited per address as in the shop. Nameservers and the
auth code go through `kluis.domains.lifecycle`, as the portal's domain page: the
registry's refusal comes back in its own words and nothing changes here; the auth
code is only ever mailed to the account's own address, never answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from kluis.accounts.http import client_address
from kluis.api.auth import caller_of, customer_of, guard
from kluis.api.idempotency import idempotent
from kluis.api.problems import Problem, form_problem, no_body
from kluis.api.schemas import ERRORS, Input
from kluis.domains import lifecycle, shop_link
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import REGISTRIES
from kluis.shop import availability
from kluis.shop.forms import AddDomainForm, domain_shown

router = Router(tags=["customer"])
READ = guard("domains:read")
WRITE = guard("domains:write")
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


# --- the availability check ------------------------------------------------------------


class CheckIn(Input):
    label: str = Field(
        min_length=1, max_length=63, description="the name without its extension; é as typed"
    )
    tld: str = Field(min_length=1, max_length=20, description="an extension the shop sells: nl")


class CheckOut(Schema):
    domain: str = Field(description="the name as written, in Unicode")
    verdict: Literal["free", "taken", "not_possible", "unchecked", "not_asked"] = Field(
        description="free; taken; not_possible (reserved, a rule of the registry); "
        "unchecked (the registry could not be asked now); not_asked (no connection to it)"
    )
    reason: str = Field(description="the registry's own words, where it gave any")


@router.post(
    "/domains/check",
    response={200: CheckOut, **ERRORS},
    **WRITE,
    url_name="domain-check",
    summary="Whether a name can still be registered (the shop's check, same rate limit)",
)
def domain_check(request: HttpRequest, body: CheckIn) -> dict[str, Any]:
    form = AddDomainForm({"label": body.label, "tld": body.tld})
    if not form.is_valid():
        raise form_problem(form)
    answer = availability.domain_check(form.domain, client_address(request))
    if answer.verdict == availability.Verdict.THROTTLED:
        raise Problem(
            "rate-limited",
            _(
                "Je hebt in korte tijd veel namen laten controleren; probeer het over %(s)d "
                "seconden."
            )
            % {"s": answer.seconds},
            headers={"Retry-After": str(answer.seconds)},
        )
    return {
        "domain": domain_shown(form.domain),
        "verdict": answer.verdict.value,
        "reason": answer.reason,
    }


# --- reading them ----------------------------------------------------------------------


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
    return _out(request, [_registration(request, registration_id)])[0]


def _registration(request: HttpRequest, registration_id: int) -> DomainRegistration:
    found = lifecycle.domain_of_customer(customer_of(request), registration_id)
    if found is None:
        raise Problem("not-found", _("Dit bestaat niet, of het is niet van jou."))
    return found


# --- nameservers and the auth code -----------------------------------------------------


class NameserversIn(Input):
    nameservers: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        min_length=1,
        max_length=lifecycle.MAX_NAMESERVERS,
        description="two to thirteen host names, such as ns1.voorbeeld.nl",
    )


class AuthCodeOut(Schema):
    sent_to: Literal["account"] = Field(
        description="the code goes by mail to your account's own address, never in an answer"
    )


def _action_refused(exc: lifecycle.DomainActionError) -> Problem:
    return Problem("refused", str(exc))


@router.put(
    "/domains/{registration_id}/nameservers",
    response={200: DomainOut, **ERRORS},
    **WRITE,
    url_name="domain-nameservers",
    summary="Replace the domain's nameservers at its registry",
)
def domain_nameservers(
    request: HttpRequest, registration_id: int, body: NameserversIn
) -> dict[str, Any]:
    """Idempotent by nature: the same list again changes nothing at the registry."""
    registration = _registration(request, registration_id)
    try:
        names = lifecycle.nameservers_clean("\n".join(body.nameservers))
    except lifecycle.DomainActionError as exc:
        error = {"location": "body", "field": "nameservers", "code": "invalid", "message": str(exc)}
        raise Problem("invalid", str(exc), errors=[error]) from None
    try:
        lifecycle.nameservers_change(
            registration=registration, nameservers=names, by=caller_of(request).user
        )
    except lifecycle.DomainActionError as exc:
        raise _action_refused(exc) from None
    return _out(request, [registration])[0]


@router.post(
    "/domains/{registration_id}/auth-code",
    response={202: AuthCodeOut, **ERRORS},
    **WRITE,
    url_name="domain-auth-code",
    summary="Ask for the transfer code: a fresh one is set and mailed to your account's address",
)
def domain_auth_code(request: HttpRequest, registration_id: int) -> Status[Any]:
    no_body(request.body)
    registration = _registration(request, registration_id)

    def make() -> dict[str, Any]:
        try:
            lifecycle.auth_code_request(registration=registration, by=caller_of(request).user)
        except lifecycle.DomainActionError as exc:
            raise _action_refused(exc) from None
        return {"registration": registration.pk}

    idempotent(request, caller_of(request), make)
    return Status(202, {"sent_to": "account"})
