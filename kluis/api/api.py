"""The REST API at /api/v1/: one NinjaAPI, its routers, and its errors as problems."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from kluis.api import customers, domains, help_requests, nodes, orders, privacy, staff
from kluis.api.problems import CONTENT_TYPE, Problem, field_errors, problem_response
from kluis.vault.errors import RevealRefused

DESCRIPTION = """\
kluis's API for customers' automation, hosting nodes and staff. It goes through the
same services, reveal checks and ledgers as the portal and the back office.

Authenticate with `Authorization: Bearer <token>`; make a token under Account → API
tokens (customers and staff) or, for a hosting node, in the back office. Every error is
`application/problem+json` (RFC 9457) in Dutch or English after `Accept-Language`.
Send `Idempotency-Key` with a POST to make a retry safe.
"""


class KluisApi(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        answer["content"] = {CONTENT_TYPE: content["application/json"]}
        return schema


api = KluisApi(
    title="kluis",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url=None,
)


api.add_router("/", customers.router)
api.add_router("/", privacy.router)
api.add_router("/", domains.router)
assert orders.router is customers.router  # POST /orders and GET /legal live there
api.add_router("/", help_requests.router)
api.add_router("/nodes", nodes.router)
api.add_router("/staff", staff.router)


@api.exception_handler(Problem)
def _problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return problem_response(exc)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        Problem(
            "unauthorized",
            _("Stuur een geldig token, niet verlopen of ingetrokken: Authorization: Bearer …"),
            headers={"WWW-Authenticate": "Bearer"},
        )
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problem_response(
        Problem("invalid", _("Een of meer velden kloppen niet."), errors=field_errors(exc.errors))
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, RequestDataTooBig):
        return problem_response(Problem("too-large"))
    if exc.status_code == 400:  # ninja's only HttpError: a body that is no JSON
        return problem_response(
            Problem("malformed", _("De inhoud van het verzoek is geen geldige JSON."))
        )
    raise exc


@api.exception_handler(RevealRefused)
def _refused(request: HttpRequest, exc: RevealRefused) -> HttpResponse:
    # As the pages' 403 (kluis.web.errors): the services write in a transaction, so
    # what the request was doing rolled back before this.
    return problem_response(
        Problem(
            "forbidden",
            _(
                "Deze gegevens mogen nu niet worden geopend, bijvoorbeeld omdat de verwerking "
                "is beperkt (art. 18 AVG). Er is niets opgeslagen en niets verstuurd."
            ),
        )
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(Problem("not-found"))
