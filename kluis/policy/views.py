"""The published privacy statement (HTML, PDF, every version) and the staff's art. 30 record."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from kluis.policy.dataflow import flow_map, flow_svg
from kluis.policy.loader import current_policy, policy_version, published_versions
from kluis.policy.pdf import statement_pdf
from kluis.policy.register import build_register
from kluis.policy.register import register_csv as register_to_csv
from kluis.policy.render import build_statement, format_date, language_of
from kluis.policy.schema import Policy

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]


def staff_required(view: View[P]) -> View[P]:
    """Staff only: anonymous visitors go to the login page, customers get a 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not getattr(request.user, "is_staff_member", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _get_policy(version: str | None) -> Policy:
    policy = current_policy() if version is None else policy_version(version)
    if policy is None:
        raise Http404("No published version of the privacy statement has this number.")
    return policy


def _attachment(filename: str) -> str:
    return content_disposition_header(as_attachment=True, filename=filename) or "attachment"


def _render_in(
    request: HttpRequest, language: str, template: str, context: dict[str, object]
) -> HttpResponse:
    with translation.override(language):
        response = render(request, template, context)
    response["Content-Language"] = language
    return response


@require_safe
def statement(request: HttpRequest, lang: str | None = None) -> HttpResponse:
    return _statement(request, current_policy(), lang)


@require_safe
def version(request: HttpRequest, version: str, lang: str | None = None) -> HttpResponse:
    return _statement(request, _get_policy(version), lang)


def _statement(request: HttpRequest, policy: Policy, lang: str | None) -> HttpResponse:
    language = language_of(lang or translation.get_language())
    is_current = policy.version == current_policy().version
    follow_language = (
        reverse("policy:statement")
        if is_current
        else reverse("policy:version", args=[policy.version])
    )
    context = {
        "document": build_statement(policy, language),
        "is_current": is_current,
        "follow_language": follow_language,
    }
    return _render_in(request, language, "policy/statement.html", context)


@require_safe
def versions(request: HttpRequest) -> HttpResponse:
    language = language_of(translation.get_language())
    rows = [
        (p, format_date(p.date, language), p.changes.get(language)) for p in published_versions()
    ]
    return _render_in(request, language, "policy/versions.html", {"rows": rows})


@require_safe
def pdf(request: HttpRequest, version: str, lang: str) -> HttpResponse:
    policy = _get_policy(version)
    response = HttpResponse(
        statement_pdf(build_statement(policy, lang)), content_type="application/pdf"
    )
    response["Content-Disposition"] = _attachment(f"privacybeleid-{policy.version}-{lang}.pdf")
    response["Content-Language"] = lang
    return response


@require_safe
def dataflow(request: HttpRequest) -> HttpResponse:
    policy = _get_policy(request.GET.get("version"))
    language = language_of(request.GET.get("lang") or translation.get_language())
    response = HttpResponse(
        flow_svg(flow_map(policy, language)), content_type="image/svg+xml; charset=utf-8"
    )
    # Opened on its own, the picture may not load or run anything.
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@require_safe
@staff_required
def register(request: HttpRequest) -> HttpResponse:
    language = language_of(translation.get_language())
    policy = current_policy()
    from kluis.audit.disclosures import disclosure_counts

    counts = [
        (policy.recipients[key].label.get(language) if key in policy.recipients else key, n, w)
        for key, n, w in disclosure_counts()
    ]
    context = {"register": build_register(policy, language), "policy": policy, "counts": counts}
    return _render_in(request, language, "policy/register.html", context)


@require_safe
@staff_required
def register_csv(request: HttpRequest) -> HttpResponse:
    register = build_register(current_policy(), translation.get_language())
    # The byte-order mark makes spreadsheet programs read the file as UTF-8 (België, €).
    content = "\ufeff" + register_to_csv(register)
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    name = f"verwerkingsregister-{register.version}-{register.language}.csv"
    response["Content-Disposition"] = _attachment(name)
    return response
