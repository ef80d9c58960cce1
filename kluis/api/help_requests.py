"""The customer's help requests: the list, and a new one, as the portal's help pages.

A new request goes through the portal's own form (`HelpRequestForm`: the subject, the
site if it is about one of the customer's sites, the question) and
`kluis.sites.services.help_request_open`, which seals the question and audits it.
The list shows what the portal's list shows: reference, subject, site and status,
not the question itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from kluis.api.auth import caller_of, customer_of, guard
from kluis.api.idempotency import idempotent
from kluis.api.problems import Problem, form_problem
from kluis.api.schemas import ERRORS, Input
from kluis.sites import services
from kluis.sites.forms import HelpRequestForm
from kluis.sites.models import HelpRequest, Site

router = Router(tags=["customer"])
HELP = guard("help:requests")

About = Literal["site", "domain", "invoice", "account"]


class HelpRequestOut(Schema):
    id: uuid.UUID
    reference: str
    about: About
    site: int | None = Field(description="the site it is about, if any")
    status: Literal["open", "waiting", "closed"] = Field(
        description="open; waiting: support answered and waits for you; closed"
    )
    created_at: dt.datetime
    closed_at: dt.datetime | None


class HelpRequestIn(Input):
    about: About
    site: int | None = Field(None, description="required when about is `site`: one of yours")
    message: str = Field(min_length=1, max_length=5000, description="your question")


def _out(found: HelpRequest) -> dict[str, Any]:
    return {
        "id": found.pk,
        "reference": found.reference,
        "about": found.about,
        "site": found.site_id,
        "status": found.status,
        "created_at": found.created_at,
        "closed_at": found.closed_at,
    }


@router.get(
    "/help-requests",
    response={200: list[HelpRequestOut], **ERRORS},
    **HELP,
    url_name="help-requests",
    summary="Your help requests, newest first",
)
def help_requests(request: HttpRequest) -> list[dict[str, Any]]:
    mine = HelpRequest.objects.filter(customer=customer_of(request)).order_by("-created_at", "-pk")
    return [_out(h) for h in mine]


@router.post(
    "/help-requests",
    response={201: HelpRequestOut, 200: HelpRequestOut, **ERRORS},
    **HELP,
    url_name="help-request-new",
    summary="Ask support for help, about a site, a domain, an invoice or your account",
)
def help_request_new(request: HttpRequest, body: HelpRequestIn) -> Status[Any]:
    customer = customer_of(request)
    form = HelpRequestForm(
        {"about": body.about, "site": body.site or "", "message": body.message},
        sites=Site.objects.filter(customer=customer),
    )
    if not form.is_valid():
        raise form_problem(form)

    def make() -> dict[str, Any]:
        made = services.help_request_open(
            customer=customer,
            about=form.cleaned_data["about"],
            site=form.cleaned_data["site"],
            message=form.cleaned_data["message"],
        )
        return {"help_request": str(made.pk)}

    result, replayed = idempotent(request, caller_of(request), make)
    found = HelpRequest.objects.filter(pk=result["help_request"], customer=customer).first()
    if found is None:
        raise Problem("not-found")
    return Status(200 if replayed else 201, _out(found))
