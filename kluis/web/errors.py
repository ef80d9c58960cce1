"""The CSRF failure page: in the design, in Dutch and English, without Django's details.

The pages for 400, 403, 404 and 500 are the templates of those names (web/templates/);
Django renders them itself. A failed CSRF check gets its own page that says what to do.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.template import loader


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # `reason` is for developers (which check failed); a visitor only needs the way out.
    return HttpResponseForbidden(loader.render_to_string("403_csrf.html", request=request))
