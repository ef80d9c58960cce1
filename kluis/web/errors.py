"""Error pages: in the design, in Dutch and English, without Django's details.

The pages for 400, 403 and 404 are the templates of those names (web/templates/);
Django renders them itself. A failed CSRF check gets its own page that says what to do.
An unhandled error is a 500, except when the database is gone (a restart, a killed
connection, a full disk): then the visitor gets a 503 that says to try again shortly,
and whatever the request was writing rolled back with its transaction.

A reveal the policy refuses (kluis.vault.errors.RevealRefused) that a view did not
handle itself, such as one for a person who restricted processing, is a 403 page that
says so instead of a 500; the services that write run in a transaction, so what the
request was doing rolled back before the exception reached here.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseServerError
from django.template import loader

from kluis.vault.errors import RevealRefused

logger = logging.getLogger("kluis.errors")
RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 when the database is unavailable, 500 otherwise.

    Rendered without the request, as Django's own handler does: the context processors
    would read the session and the user from the database that just failed.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The exception's class only: its text may quote SQL parameters.
        logger.warning("database unavailable: %s on %s", type(exc).__name__, request.path)
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(loader.render_to_string("500.html"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # `reason` is for developers (which check failed); a visitor only needs the way out.
    return HttpResponseForbidden(loader.render_to_string("403_csrf.html", request=request))


class RevealRefusedMiddleware:
    """A RevealRefused out of a view: the 403 page that says why, logged without data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RevealRefused):
            return None
        logger.warning("reveal refused in a view: %s", request.path)
        return HttpResponseForbidden(loader.render_to_string("403_refused.html", request=request))
