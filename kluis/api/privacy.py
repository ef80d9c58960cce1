"""The customer's own data through the API: read and correct it, and the rights requests.

The same services as the portal's "Mijn gegevens" and privacy pages
(kluis/rights): the values open for the person themself, a correction notes every
recipient that had the old data, an access request is answered at once, an erasure
is carried out at once (and so ends the token with the account).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from kluis.api.auth import caller_of, customer_of, guard
from kluis.api.idempotency import idempotent
from kluis.api.problems import Problem
from kluis.api.schemas import ERRORS, Input
from kluis.rights import selectors, services
from kluis.rights.models import RightsRequest
from kluis.rights.views import ERRORS as RIGHTS_ERRORS

router = Router(tags=["customer"])


class AccountOut(Schema):
    number: str
    country: str
    language: str
    name: str | None = None
    company_name: str | None = None
    address_street: str | None = None
    address_postcode: str | None = None
    address_city: str | None = None
    phone: str | None = None
    legal_form: str | None = Field(
        None,
        description=(
            "An organisation's legal form as chosen on the portal's legal-form page "
            "(eenmanszaak, vof, cv, maatschap, bv, nv, stichting, vereniging, cooperatie, "
            "owm, kerk, buitenlands, anders); null when not given or for a person. "
            "Read-only here: SIDN gets it with the contact of a .nl domain."
        ),
    )


class AccountPatch(Input):
    name: str | None = Field(None, max_length=200)
    company_name: str | None = Field(None, max_length=200)
    address_street: str | None = Field(None, max_length=200)
    address_postcode: str | None = Field(None, max_length=20)
    address_city: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)


class RequestOut(Schema):
    id: uuid.UUID
    kind: Literal["access", "portability", "erasure", "rectification", "restriction", "objection"]
    status: str
    received_at: dt.datetime


class RequestIn(Input):
    kind: Literal["access", "portability", "restriction", "objection"]


class ErasureIn(Input):
    confirm: Literal[True] = Field(description="true: erase my account and my data now")


def _account(request: HttpRequest) -> dict[str, Any]:
    customer = customer_of(request)
    values = selectors.current_values(customer, caller_of(request).actor)
    return {
        "number": customer.number,
        "country": customer.country,
        "language": customer.language,
        "legal_form": customer.legal_form or None,
        **{k: v or None for k, v in values.items()},
    }


def _refused(exc: services.RightsError) -> Problem:
    return Problem("refused", RIGHTS_ERRORS.get(exc.code, exc.code))


@router.get(
    "/account",
    response={200: AccountOut, **ERRORS},
    **guard("account:read"),
    url_name="account",
    summary="Your account's details, as on the portal's correction page",
)
def account(request: HttpRequest) -> dict[str, Any]:
    return _account(request)


@router.patch(
    "/account",
    response={200: AccountOut, **ERRORS},
    **guard("account:write"),
    url_name="account-rectify",
    summary="Correct your details (art. 16 GDPR); recipients of the old data are noted",
)
def account_rectify(request: HttpRequest, body: AccountPatch) -> dict[str, Any]:
    changes = {k: v or "" for k, v in body.model_dump(exclude_unset=True).items()}
    try:
        services.rectify(
            customer=customer_of(request), changes=changes, by=caller_of(request).actor
        )
    except ValidationError as exc:
        raise Problem("refused", " ".join(str(m) for m in exc.messages)) from None
    except services.RightsError as exc:
        raise _refused(exc) from None
    return _account(request)


def _request_out(r: RightsRequest) -> dict[str, Any]:
    return {"id": r.pk, "kind": r.kind, "status": r.status, "received_at": r.received_at}


@router.get(
    "/privacy/requests",
    response={200: list[RequestOut], **ERRORS},
    **guard("account:read"),
    url_name="privacy-requests",
)
def privacy_requests(request: HttpRequest) -> list[dict[str, Any]]:
    return [_request_out(r) for r in selectors.requests_of(customer_of(request))]


@router.post(
    "/privacy/requests",
    response={201: RequestOut, 200: RequestOut, **ERRORS},
    **guard("privacy:requests"),
    url_name="privacy-request-new",
    summary="Ask for access, a copy to take along, restriction or objection",
)
def privacy_request_new(request: HttpRequest, body: RequestIn) -> Status[Any]:
    caller = caller_of(request)

    def make() -> dict[str, Any]:
        try:
            made = services.request_from_portal(user=caller.user, kind=body.kind)
        except services.RightsError as exc:
            raise _refused(exc) from None
        return {"request": str(made.pk)}

    result, replayed = idempotent(request, caller, make)
    found = selectors.request_of(customer_of(request), uuid.UUID(result["request"]))
    if found is None:
        raise Problem("not-found")
    return Status(200 if replayed else 201, _request_out(found))


@router.post(
    "/privacy/erasure",
    response={200: RequestOut, **ERRORS},
    **guard("privacy:erasure"),
    url_name="privacy-erasure",
    summary="Erase your account and your data now (what the law makes us keep stays)",
)
def privacy_erasure(request: HttpRequest, body: ErasureIn) -> dict[str, Any]:
    done = services.erasure_request_from_portal(user=caller_of(request).user)
    return _request_out(done)
