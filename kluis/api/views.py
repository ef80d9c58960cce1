"""The API's pages: the reference, and making and revoking tokens."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kluis.accounts.decorators import login_required, staff_required
from kluis.accounts.http import current_user
from kluis.api import tokens
from kluis.api.forms import TokenForm
from kluis.api.models import ApiToken
from kluis.api.problems import TYPES
from kluis.api.scopes import SCOPES, Holder


def home(request: HttpRequest) -> HttpResponse:
    """/api/v1/ itself: the reference page, for a person who opens it in a browser."""
    return redirect("api-reference")


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            security = op.get("security") or [{}]
            scopes = [s for entry in security for s in next(iter(entry.values()), [])]
            found.append(
                {
                    "anchor": op.get("operationId", ""),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "scopes": scopes,
                    "roles": op.get("x-roles", []),
                    "parameters": op.get("parameters", []),
                    "body": _body_fields(schema, op),
                    "responses": sorted(op.get("responses", {}).items()),
                    "tag": (op.get("tags") or [""])[0],
                }
            )
    return found


def _body_fields(schema: dict[str, Any], op: dict[str, Any]) -> list[tuple[str, str, bool]]:
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    model = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}
    required = set(model.get("required", []))
    return [
        (name, spec.get("type") or spec.get("format") or "", name in required)
        for name, spec in model.get("properties", {}).items()
    ]


def reference(request: HttpRequest) -> HttpResponse:
    """The OpenAPI document as a page of the design system (no script: the strict CSP)."""
    from kluis.api.api import api

    schema = api.get_openapi_schema()
    return render(
        request,
        "api/reference.html",
        {
            "operations": _operations(schema),
            "scopes": SCOPES.values(),
            "problems": [(code, status, title) for code, (status, title) in TYPES.items()],
        },
    )


# --- personal tokens: every customer and staff member ------------------------------------


def _holder(request: HttpRequest) -> Holder:
    return "staff" if current_user(request).is_staff_member else "customer"


def _token_page(
    request: HttpRequest, *, form: TokenForm, created: str = "", template: str, rows: Any
) -> HttpResponse:
    return render(request, template, {"form": form, "created": created, "tokens": rows})


@never_cache
@login_required
def personal_tokens(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    holder = _holder(request)
    created = ""
    if request.method == "POST":
        form = TokenForm(request.POST, holder=holder)
        if form.is_valid():
            try:
                _row, created = tokens.personal_token_create(
                    user=user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    days=form.cleaned_data["days"],
                )
            except tokens.TokenError as exc:
                form.add_error(None, str(exc.message))
            else:
                form = TokenForm(holder=holder)
    else:
        form = TokenForm(holder=holder)
    rows = ApiToken.objects.filter(user=user, kind=ApiToken.Kind.PERSONAL)
    return _token_page(request, form=form, created=created, template="api/tokens.html", rows=rows)


@require_POST
@login_required
def personal_token_revoke(request: HttpRequest, token_id: uuid.UUID) -> HttpResponse:
    user = current_user(request)
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise Http404
    tokens.token_revoke(token=token, by=user)
    messages.success(request, _("Het token is ingetrokken."))
    return redirect("api-tokens")


# --- service tokens: administrators in the back office ------------------------------------


@never_cache
@staff_required("admin")
def service_tokens(request: HttpRequest) -> HttpResponse:
    created = ""
    if request.method == "POST":
        form = TokenForm(request.POST, holder="service")
        if form.is_valid():
            try:
                _row, created = tokens.service_token_create(
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    days=form.cleaned_data["days"],
                    by=current_user(request),
                    node=form.cleaned_data.get("node"),
                )
            except tokens.TokenError as exc:
                form.add_error(None, str(exc.message))
            else:
                form = TokenForm(holder="service")
    else:
        form = TokenForm(holder="service")
    rows = ApiToken.objects.filter(kind=ApiToken.Kind.SERVICE).select_related("created_by", "node")
    return _token_page(
        request, form=form, created=created, template="api/service_tokens.html", rows=rows
    )


@require_POST
@staff_required("admin")
def service_token_revoke(request: HttpRequest, token_id: uuid.UUID) -> HttpResponse:
    token = ApiToken.objects.filter(pk=token_id, kind=ApiToken.Kind.SERVICE).first()
    if token is None:
        raise Http404
    tokens.token_revoke(token=token, by=current_user(request))
    messages.success(request, _("Het token is ingetrokken."))
    return redirect("api-service-tokens")
