"""First-party statistics without personal data (R7, R44).

Per page view: one upsert of (day, page, referring host) + 1. The page is the name of
its route ("web:home", "rights:confirm"), never the path: a path can hold a secret (a
confirmation, activation or reset token) and a query anything a visitor typed. The
referrer is reduced to the
host of another site, and the client's IP address and user agent are never read
into a row. Only successful GETs of HTML pages count; static files, the back office,
the portal and the account pages (which hold tokens in their paths) do not.

With consent only, the first-party kluis_stats cookie counts unique visitors per
day. Its value is a random code and the date it was last counted; the server reads
only that date, so no visitor id is stored anywhere: a browser whose cookie carries
an earlier date (or none) is counted once for today, and its cookie gets today.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from kluis.web.consent import STATS_COOKIE, consent_from, cookie_max_age
from kluis.web.models import PageViewDay, VisitorDay

logger = logging.getLogger(__name__)

SKIPPED_PREFIXES = ("/static/", "/media/", "/backoffice/", "/portaal/", "/account/", "/i18n/")
MAX_PATH = 200
MAX_HOST = 100
_HOST = re.compile(r"^[a-z0-9.-]{1,100}$")
_BOTS = re.compile(r"bot|crawl|spider|slurp|preview|monitor|curl|wget|python", re.IGNORECASE)
_STATS_VALUE = re.compile(r"^[0-9a-f]{16}\.(\d{8})$")


def counts(request: HttpRequest, response: HttpResponse) -> bool:
    """Whether this request is a page view worth counting."""
    if request.method != "GET" or response.status_code != 200:
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    path = request.path
    static = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/static/"
    if path.startswith((*SKIPPED_PREFIXES, static)) or not page_name(request):
        return False
    return not _BOTS.search(request.headers.get("User-Agent", ""))


def page_name(request: HttpRequest) -> str:
    """The route's name: what the page is, without what its URL carries."""
    match = request.resolver_match
    return match.view_name if match is not None else ""


def referrer_host(request: HttpRequest) -> str:
    """The host of another site that linked here; "" for none, our own or a strange one."""
    raw = request.headers.get("Referer", "")
    if not raw:
        return ""
    try:
        host = (urlsplit(raw).hostname or "").lower()
    except ValueError:
        return ""
    if not _HOST.match(host) or host == request.get_host().split(":")[0].lower():
        return ""
    return host.removeprefix("www.")


def pageview_count(*, day: dt.date, path: str, referrer: str) -> None:
    table = connection.ops.quote_name(PageViewDay._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, path, referrer_host, views) "  # noqa: S608
            "VALUES (%s, %s, %s, 1) ON CONFLICT (day, path, referrer_host) "
            f"DO UPDATE SET views = {table}.views + 1",
            [day, path[:MAX_PATH], referrer[:MAX_HOST]],
        )


def visitor_count(*, day: dt.date, returning: bool) -> None:
    table = connection.ops.quote_name(VisitorDay._meta.db_table)
    back = 1 if returning else 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, visitors, repeat_visitors) "  # noqa: S608
            "VALUES (%s, 1, %s) ON CONFLICT (day) "
            f"DO UPDATE SET visitors = {table}.visitors + 1, "
            f"repeat_visitors = {table}.repeat_visitors + %s",
            [day, back, back],
        )


def last_counted(value: str | None) -> str | None:
    """The date (YYYYMMDD) a statistics cookie was last counted, if it is one of ours."""
    found = _STATS_VALUE.match(value or "")
    return found[1] if found else None


class StatisticsMiddleware:
    """Counts page views; with consent, sets kluis_stats and counts the visitor once a day."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not counts(request, response):
            return response
        today = timezone.localdate()
        stamp = today.strftime("%Y%m%d")
        try:
            pageview_count(day=today, path=page_name(request), referrer=referrer_host(request))
            if consent_from(request).statistics is True:
                seen = last_counted(request.COOKIES.get(STATS_COOKIE))
                if seen != stamp:
                    visitor_count(day=today, returning=seen is not None)
                    self._stamp(response, stamp)
        except Exception:
            # Best effort by design: a page is never turned into an error, or held up,
            # because a statistic could not be written.
            logger.warning("page view not counted", exc_info=True)
        return response

    @staticmethod
    def _stamp(response: HttpResponse, stamp: str) -> None:
        # A new random code each day: the code never outlives the day it was counted.
        response.set_cookie(
            STATS_COOKIE,
            f"{secrets.token_hex(8)}.{stamp}",
            max_age=cookie_max_age(STATS_COOKIE),
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
