"""Dates read as people write them: "4 december 2026", never "04-12-2026" or an ISO stamp.

One set-up: every portal page of the access harness is opened by Alice after every
builder has made her objects (orders, subscriptions, invoices, requests, sites), so the
lists have rows with dates; then the access export's PDF is read as text. The back
office is walked the same way: every page of the harness, by each role that may open it.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader

from kluis.audit.disclosures import disclosure_record
from kluis.formats import long_date, long_datetime
from kluis.policy.enforce import Actor
from kluis.rights.export import build_export
from kluis.rights.pdf import export_pdf
from kluis.testing import ROUTES, STAFF_ROLES, log_in

pytestmark = pytest.mark.django_db(databases="__all__")

NUMERIC = re.compile(r"\b\d{1,2}-\d{1,2}-\d{4}\b")
ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?")
LONG_NL = re.compile(
    r"\b\d{1,2} (januari|februari|maart|april|mei|juni|juli|augustus|september|oktober"
    r"|november|december) \d{4}\b"
)


def _text(markup: str) -> str:
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    # Attribute values (datetime="…", data-month="2026-12") are for machines.
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _disclosed_to_the_registry(personas) -> None:
    disclosure_record(
        subject=personas.customer_a.pk,
        recipient="sidn",
        purpose="domain_registration",
        categories=["user.name", "user.contact.email"],
        actor=Actor.system("test"),
    )


def test_the_formats_in_both_languages_and_amsterdam_time():
    late = dt.datetime(2026, 12, 3, 23, 30, 5, tzinfo=dt.UTC)  # 00:30 on 4 December here
    assert long_date(dt.date(2026, 12, 4), "nl") == "4 december 2026"
    assert long_date(dt.date(2026, 12, 4), "en") == "4 December 2026"
    assert long_date(late, "nl") == "4 december 2026"
    assert long_datetime(late, "nl") == "4 december 2026, 00:30"
    assert long_datetime(late, "en", seconds=True) == "4 December 2026, 00:30:05"
    assert long_datetime("2026-12-03T23:30:05+00:00", "nl") == "4 december 2026, 00:30"
    assert long_date("2027-01-31", "nl") == "31 januari 2027"
    assert long_date(None) == long_date("") == long_date("geen datum") == ""
    with translation.override("en"):
        assert long_date(dt.date(2026, 3, 1)) == "1 March 2026"


def test_no_portal_page_or_export_pdf_shows_a_numeric_or_iso_date(client, personas):
    pages = [
        (name, route.kwargs(personas) if route.kwargs else None)
        for name, route in ROUTES.items()
        if route.audience == "portal" and route.method == "get"
    ]
    _disclosed_to_the_registry(personas)
    log_in(client, personas.alice)
    dated, wrong = _read_dates(client, pages)
    assert not wrong, wrong
    # The check reads pages that do show dates, not only empty ones.
    for name in ("shop_portal:orders", "billing_portal:invoices", "rights_portal:requests"):
        assert name in dated, (name, dated)

    today = timezone.localdate()
    for language in ("nl", "en"):
        export = build_export(
            subject=personas.customer_a.pk,
            actor=Actor.subject(personas.customer_a.pk),
            language=language,
        )
        pdf = PdfReader(io.BytesIO(export_pdf(export)))
        text = " ".join(page.extract_text() for page in pdf.pages)
        text = " ".join(text.split())
        assert not ISO.search(text), [
            text[max(0, m.start() - 60) : m.end()] for m in ISO.finditer(text)
        ][:4]
        assert not NUMERIC.search(text), NUMERIC.findall(text)
        # "Opgesteld op 5 december 2026, 01:40": the export's own moment, in words.
        assert long_date(today, language) in text


def _read_dates(client, pages) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Open each page (HTML or PDF); those with a long Dutch date, and any wrong dates."""
    dated, wrong = [], []
    for name, kwargs in pages:
        response = client.get(reverse(name, kwargs=kwargs))
        if response.status_code != 200:
            continue
        if response["Content-Type"] == "application/pdf":
            pdf = PdfReader(
                io.BytesIO(
                    b"".join(response.streaming_content) if response.streaming else response.content
                )
            )
            text = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
        elif "text/html" in response["Content-Type"]:
            text = _text(response.content.decode())
        else:
            continue
        found = NUMERIC.findall(text) + ISO.findall(text)
        if found:
            wrong.append((name, found[:4]))
        if LONG_NL.search(text):
            dated.append(name)
    return dated, wrong


@pytest.fixture
def dutch():
    with translation.override("nl"):
        yield


def test_no_back_office_page_shows_a_numeric_or_iso_date(client, personas, dutch):
    # Every builder first, so the desks list Alice's orders, invoices, requests, sites.
    pages = [
        (name, route, route.kwargs(personas) if route.kwargs else None)
        for name, route in ROUTES.items()
        if route.audience == "backoffice" and route.method == "get"
    ]
    _disclosed_to_the_registry(personas)
    dated: set[str] = set()
    wrong = []
    for role in STAFF_ROLES:
        log_in(client, personas.staff[role])
        allowed = [
            (name, kwargs)
            for name, route, kwargs in pages
            if not route.roles or role in route.roles
        ]
        role_dated, role_wrong = _read_dates(client, allowed)
        dated.update(role_dated)
        wrong += [(role, *w) for w in role_wrong]
        client.logout()
    assert not wrong, wrong
    # The walk reads pages that do show dates, not only empty ones.
    for name in ("backoffice:customer", "shop_backoffice:order", "rights_backoffice:request"):
        assert name in dated, (name, sorted(dated))
    assert "billing_backoffice:invoice-pdf" in dated, sorted(dated)  # the PDFs are read too
