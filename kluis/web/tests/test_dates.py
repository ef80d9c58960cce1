"""Dates read as people write them: "4 december 2026", never "04-12-2026" or an ISO stamp.

One set-up: every portal page of the access harness is opened by Alice after every
builder has made her objects (orders, subscriptions, invoices, requests, sites), so the
lists have rows with dates; then the access export's PDF is read as text.
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
from kluis.testing import ROUTES, log_in

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
    disclosure_record(
        subject=personas.customer_a.pk,
        recipient="sidn",
        purpose="domain_registration",
        categories=["user.name", "user.contact.email"],
        actor=Actor.system("test"),
    )
    log_in(client, personas.alice)
    dated = []
    for name, kwargs in pages:
        response = client.get(reverse(name, kwargs=kwargs))
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        text = _text(response.content.decode())
        assert not NUMERIC.search(text), (name, NUMERIC.findall(text))
        assert not ISO.search(text), (name, ISO.findall(text))
        if LONG_NL.search(text):
            dated.append(name)
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
