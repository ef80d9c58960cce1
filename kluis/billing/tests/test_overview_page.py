"""Finance's overview page and the back-office invoice PDF: finance only, few queries."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kluis.billing import services
from kluis.billing.pdf import euro
from kluis.billing.tests.helpers import order_for
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

SVG = "{http://www.w3.org/2000/svg}"


def issue_some(personas, count: int, *, days_ago: int = 40):
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None, issue_date=day)
        for _ in range(count)
    ]


def test_finance_sees_totals_chart_table_and_open_items(client, personas):
    late = issue_some(personas, 1, days_ago=40)[0]
    fresh = issue_some(personas, 1, days_ago=1)[0]
    log_in(client, personas.staff["finance"])

    response = client.get(reverse("billing_backoffice:overview"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Financieel overzicht" in page
    # Overdue first, with its days overdue, each with its back-office PDF.
    assert page.index(late.number) < page.index(fresh.number)
    assert f"<td>{(timezone.localdate() - late.due_date).days}</td>" in page
    assert reverse("billing_backoffice:invoice-pdf", args=[late.pk]) in page
    assert euro(late.total_cents + fresh.total_cents) in page
    # The chart is inline, and its last bars carry what the table says for this month.
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    last = root.findall(f"{SVG}g")[-1]
    cents = {r.get("data-series"): int(r.get("data-cents", "")) for r in last.iter(f"{SVG}rect")}
    assert cents == {
        "open": late.total_cents + fresh.total_cents,
        "overdue": late.total_cents,
        "paid": 0,
    }
    assert 'class="finance-months"' in page
    assert f"{euro(late.total_cents + fresh.total_cents)} (2)" in page
    assert reverse("billing_backoffice:statements") in page
    assert reverse("billing_backoffice:refunds") in page


def test_the_page_is_in_english_for_an_english_session(client, personas):
    log_in(client, personas.staff["finance"])
    client.cookies["django_language"] = "en"
    page = client.get(reverse("billing_backoffice:overview"), HTTP_ACCEPT_LANGUAGE="en").content
    text = page.decode()
    assert "Finance overview" in text and "Open, overdue and paid per month" in text
    assert "There are no open invoices." in text


@pytest.mark.parametrize("role", ["orders", "support", "privacy_officer", "admin"])
def test_other_staff_roles_are_refused(client, personas, role):
    invoice = issue_some(personas, 1)[0]
    log_in(client, personas.staff[role])
    assert client.get(reverse("billing_backoffice:overview")).status_code == 403
    pdf = reverse("billing_backoffice:invoice-pdf", args=[invoice.pk])
    assert client.get(pdf).status_code == 403


def test_a_customer_does_not_find_the_page(client, personas):
    log_in(client, personas.alice)
    assert client.get(reverse("billing_backoffice:overview")).status_code == 404


def test_finance_downloads_the_pdf_of_any_invoice(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_b), issued_by=None)
    log_in(client, personas.staff["finance"])
    response = client.get(reverse("billing_backoffice:invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert invoice.number in response["Content-Disposition"]


def test_an_unknown_invoice_is_a_404(client, personas):
    log_in(client, personas.staff["finance"])
    missing = "00000000-0000-4000-8000-000000000000"
    response = client.get(reverse("billing_backoffice:invoice-pdf", args=[missing]))
    assert response.status_code == 404


def test_the_number_of_queries_does_not_grow_with_the_invoices(
    client, personas, django_assert_max_num_queries
):
    issue_some(personas, 2)
    log_in(client, personas.staff["finance"])
    url = reverse("billing_backoffice:overview")
    client.get(url)  # the session and the key cache are warm from here on
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    issue_some(personas, 10, days_ago=200)
    issue_some(personas, 5, days_ago=3)
    with django_assert_max_num_queries(len(few)):
        response = client.get(url)
    assert response.content.decode().count('/pdf/"') == 17
