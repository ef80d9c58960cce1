"""Around every API request: the body's size limit, and the audit of each token's use."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from kluis.api import quiet
from kluis.api.problems import Problem, problem_response
from kluis.audit.chain import audit_append

PREFIX = "/api/"


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.KLUIS_API_MAX_BODY:
            # Refused before a byte of the body is read.
            return problem_response(
                Problem(
                    "too-large",
                    _("Een verzoek is hoogstens %(n)d bytes.") % {"n": settings.KLUIS_API_MAX_BODY},
                )
            )
        # One transaction per request: the rate limit's count, the work and the audit of
        # the use commit together (one commit, not three), or not at all.
        with transaction.atomic():
            response = self.get_response(request)
            self._audit(request, response)
        return response

    @staticmethod
    def _audit(request: HttpRequest, response: HttpResponse) -> None:
        caller = getattr(request, "api_caller", None)
        if caller is None:
            return
        token_id = caller.token.pk
        if getattr(request, "api_quiet", False):
            if response.status_code == 304:
                quiet.quiet_answered(token_id)  # on the chain with the token's next entry
                return
            repeats = quiet.repeats_take(token_id)  # changed after all: recorded now
        else:
            repeats = getattr(request, "api_repeats", 0)
        match = request.resolver_match
        data = {
            "token": str(token_id),
            "method": request.method,
            "route": match.route if match else "",
            "status": response.status_code,
        }
        if repeats:
            data["repeats"] = repeats  # unchanged 304 fetches since this process's last entry
        audit_append(
            action="api.used", actor=caller.actor.ref, subject=caller.actor.subject_id, data=data
        )
        minute = getattr(request, "api_window", None)
        if minute is not None and response.status_code == 304:
            quiet.recorded(token_id, minute, getattr(request, "api_counted", 0))
