"""Errors as `application/problem+json` (RFC 9457), in the request's language.

Every refusal of the API is a `Problem`: a status, a stable `code` (the type URI
ends in it; the reference page explains each), a title and a detail in Dutch or
English (LocaleMiddleware picks from Accept-Language), and for invalid input the
fields at fault.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

CONTENT_TYPE = "application/problem+json"

# code -> (status, title): the problem types the reference page lists.
TYPES: dict[str, tuple[int, Promise]] = {
    "malformed": (400, _("Geen geldige JSON")),
    "unauthorized": (401, _("Geen geldig token")),
    "forbidden": (403, _("Niet toegestaan")),
    "not-found": (404, _("Niet gevonden")),
    "conflict": (409, _("In strijd met een eerder verzoek")),
    "too-large": (413, _("Verzoek te groot")),
    "invalid": (422, _("Ongeldige invoer")),
    "refused": (422, _("Geweigerd")),
    "idempotency-mismatch": (422, _("Idempotency-Key al gebruikt")),
    "rate-limited": (429, _("Te veel verzoeken")),
}


def type_uri(code: str) -> str:
    return f"{settings.KLUIS_BASE_URL}/api/v1/docs/#problem-{code}"


class Problem(Exception):
    def __init__(
        self,
        code: str,
        detail: object = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.status = TYPES[code][0]
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        # Members of its own (RFC 9457 §3.2), such as the documents an order must accept.
        self.extra = extra or {}


def problem_response(problem: Problem, *, instance: str = "") -> HttpResponse:
    body: dict[str, Any] = {
        "type": type_uri(problem.code),
        "title": str(TYPES[problem.code][1]),
        "status": problem.status,
        "detail": str(problem.detail) if problem.detail else str(TYPES[problem.code][1]),
    }
    if instance:
        body["instance"] = instance
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update(problem.extra)
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=problem.status, content_type=CONTENT_TYPE
    )
    for name, value in problem.headers.items():
        response[name] = value
    response["Content-Language"] = _language()
    return response


def _language() -> str:
    from django.utils.translation import get_language

    return get_language() or "nl"


# Pydantic's error types, said in our words (its own messages are English only).
_FIELD_MESSAGES: dict[str, Promise] = {
    "extra_forbidden": _("Onbekend veld; dit veld bestaat niet."),
    "missing": _("Dit veld is verplicht."),
    "json_invalid": _("Geen geldige JSON."),
}


def no_body(body: bytes) -> None:
    """An operation that takes no input refuses one (unknown fields are not ignored)."""
    if body.strip() not in (b"", b"{}"):
        error = {
            "location": "body",
            "field": "",
            "code": "extra_forbidden",
            "message": str(_FIELD_MESSAGES["extra_forbidden"]),
        }
        raise Problem("invalid", _("Deze bewerking neemt geen invoer."), errors=[error])


def form_problem(form: Any) -> Problem:
    """A Django form's errors (a service's own validation) as an `invalid` problem."""
    errors = [
        {
            "location": "body",
            "field": "" if name == "__all__" else name,
            "code": "invalid",
            "message": str(message),
        }
        for name, messages in form.errors.items()
        for message in messages
    ]
    return Problem("invalid", _("Een of meer velden kloppen niet."), errors=errors)


def field_errors(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors as `{"location": "body", "field": "network", "message": ...}`."""
    errors = []
    for error in raw:
        loc = [str(part) for part in error.get("loc", ())]
        where = loc[0] if loc else ""
        # ninja's body errors name the operation's parameter too: ("body", "body", "x").
        path = loc[2:] if where == "body" and len(loc) > 2 else loc[1:]
        kind = str(error.get("type", ""))
        message = _FIELD_MESSAGES.get(kind)
        if message is None:
            if kind.endswith("_type") or kind.endswith("_parsing"):
                message = _("Verkeerd type of formaat voor dit veld.")
            else:
                message = _("Deze waarde is niet toegestaan.")
        field = ".".join(path)
        errors.append({"location": where, "field": field, "code": kind, "message": str(message)})
    return errors
