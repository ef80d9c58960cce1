"""Cookie consent: which cookies may be set, and the visitor's choice (R43, R44).

The policy's cookie list is the source: a cookie that needs consent is set only
after the visitor said yes in kluis_consent, and the middleware strips it from any
response that would set it without that yes. The banner is a plain HTML form (no
script, so nothing here depends on JavaScript or on the CSP allowing inline code),
and refusing blocks nothing: no view looks at the choice except the statistics.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from kluis.policy.loader import current_policy
from kluis.policy.schema import Cookie, Duration

logger = logging.getLogger(__name__)

CONSENT_COOKIE = "kluis_consent"
STATS_COOKIE = "kluis_stats"
YES = "yes"
NO = "no"

_LIFETIME = re.compile(r"^\s*(\d+)\s+(day|week|month|year)s?\b")


def declared_cookie(name: str) -> Cookie:
    for cookie in current_policy().cookies:
        if cookie.name == name:
            return cookie
    raise ImproperlyConfigured(f"the privacy policy declares no cookie {name!r}")


def cookie_max_age(name: str, *, today: dt.date | None = None) -> int:
    """Seconds the cookie lives, read from its lifetime in the policy ("6 months")."""
    text = declared_cookie(name).lifetime.en
    found = _LIFETIME.match(text)
    if found is None:
        raise ImproperlyConfigured(
            f"the lifetime of cookie {name!r} in the policy ({text!r}) does not start with "
            "a number of days, weeks, months or years"
        )
    amount, unit = int(found[1]), found[2]
    duration = {
        "day": Duration(days=amount),
        "week": Duration(days=7 * amount),
        "month": Duration(months=amount),
        "year": Duration(years=amount),
    }[unit]
    start = today or dt.date.today()
    return (duration.after(start) - start).days * 24 * 3600


def cookies_needing_consent() -> frozenset[str]:
    return frozenset(c.name for c in current_policy().cookies if c.needs_consent)


@dataclass(frozen=True)
class ConsentState:
    """What the visitor chose about the statistics cookie; None: not asked yet."""

    statistics: bool | None

    @property
    def undecided(self) -> bool:
        return self.statistics is None


def consent_from(request: HttpRequest) -> ConsentState:
    value = request.COOKIES.get(CONSENT_COOKIE)
    return ConsentState({YES: True, NO: False}.get(value or ""))


def set_consent(response: HttpResponse, *, statistics: bool) -> None:
    response.set_cookie(
        CONSENT_COOKIE,
        YES if statistics else NO,
        max_age=cookie_max_age(CONSENT_COOKIE),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    if not statistics:
        response.delete_cookie(STATS_COOKIE, samesite="Lax")


class ConsentMiddleware:
    """Puts the choice on the request; keeps consent-only cookies out without a yes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        state = consent_from(request)
        request.cookie_consent = state  # type: ignore[attr-defined]
        response = self.get_response(request)
        # A view may have just recorded a new choice: that one counts.
        new_choice = response.cookies.get(CONSENT_COOKIE)
        allowed = state.statistics is True
        if new_choice is not None and new_choice["max-age"] != 0:
            allowed = new_choice.value == YES
        if allowed:
            return response
        for name in cookies_needing_consent():
            morsel = response.cookies.get(name)
            if morsel is not None and morsel["max-age"] != 0:
                logger.warning("cookie %s needs consent and was not set", name)
                del response.cookies[name]
            if request.COOKIES.get(name) and name not in response.cookies:
                # Consent withdrawn (or never given): remove what the browser still holds.
                response.delete_cookie(name, samesite="Lax")
        return response
