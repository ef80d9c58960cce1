"""The customer's help requests: the list, and a new one, as the portal's help pages.

A new request goes through the portal's own form (`HelpRequestForm`: the subject, the
site if it is about one of the customer's sites, the question) and
`kluis.sites.services.help_request_open`, which seals the question and audits it.
The list shows what the portal's list shows: reference, subject, site and status,
not the question itself; one request shows the question and its thread, opened for
the customer themself (purpose `answer_questions`), as the portal's request page; a
reply goes through `kluis.sites.services.help_reply`, and closing it through
`kluis.sites.services.help_request_close` (support's running access to the site ends
with it).
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
from kluis.policy.enforce import Actor
from kluis.sites import services
from kluis.sites.forms import HelpRequestForm
from kluis.sites.models import HelpRequest, Site
from kluis.vault.reveal import reveal_many

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


class HelpMessageOut(Schema):
    number: int
    author: Literal["customer", "staff"]
    body: str | None = Field(description="null once erased")
    at: dt.datetime


class HelpThreadOut(HelpRequestOut):
    message: str | None = Field(description="your question; null once erased")
    thread: list[HelpMessageOut]


class ReplyIn(Input):
    body: str = Field(min_length=1, max_length=5000)


def _mine(request: HttpRequest, request_id: uuid.UUID) -> HelpRequest:
    found = HelpRequest.objects.filter(pk=request_id, customer=customer_of(request)).first()
    if found is None:
        raise Problem("not-found")
    return found


def _thread_out(found: HelpRequest) -> dict[str, Any]:
    me = Actor.subject(found.customer_id)
    (question,) = reveal_many([found], ["message"], purpose="answer_questions", actor=me)
    thread = list(found.thread.order_by("number"))
    plain = reveal_many(thread, ["body"], purpose="answer_questions", actor=me)
    return {
        **_out(found),
        "message": question["message"],
        "thread": [
            {"number": m.number, "author": m.author, "body": p["body"], "at": m.at}
            for m, p in zip(thread, plain, strict=True)
        ],
    }


@router.get(
    "/help-requests/{request_id}",
    response={200: HelpThreadOut, **ERRORS},
    **HELP,
    url_name="help-request",
    summary="One help request with your question and the thread",
)
def help_request(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    return _thread_out(_mine(request, request_id))


@router.post(
    "/help-requests/{request_id}/reply",
    response={201: HelpThreadOut, 200: HelpThreadOut, **ERRORS},
    **HELP,
    url_name="help-request-reply",
    summary="Add your message to the thread (the request is open again)",
)
def help_request_reply(request: HttpRequest, request_id: uuid.UUID, body: ReplyIn) -> Status[Any]:
    found = _mine(request, request_id)

    def make() -> dict[str, Any]:
        try:
            made = services.help_reply(request=found, body=body.body, by=caller_of(request).user)
        except services.SitesError as exc:
            raise Problem("refused", exc.message) from None
        return {"message": made.pk}

    _result, replayed = idempotent(request, caller_of(request), make)
    found.refresh_from_db()
    return Status(200 if replayed else 201, _thread_out(found))


class CloseIn(Input):
    """Nothing to say: the body is `{}`; any field is refused."""


@router.post(
    "/help-requests/{request_id}/close",
    response={200: HelpRequestOut, **ERRORS},
    **HELP,
    url_name="help-request-close",
    summary="Close your help request (support's running access to its site ends too)",
)
def help_request_close(
    request: HttpRequest, request_id: uuid.UUID, body: CloseIn
) -> dict[str, Any]:
    found = _mine(request, request_id)
    try:
        services.help_request_close(request=found, by=caller_of(request).user)
    except services.SitesError as exc:
        raise Problem("refused", exc.message) from None
    found.refresh_from_db()
    return _out(found)
