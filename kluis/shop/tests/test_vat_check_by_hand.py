"""VIES in words for staff, and a VAT check by hand so an order never waits forever."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.shop.models import Order, VatCheck
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.shop.tests.test_vies import BUSINESS
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def waiting(client, catalogue, vies) -> Order:
    vies.answer(500)
    assert checkout(client, fill_cart(client), **BUSINESS).status_code == 302
    client.logout()
    order = Order.objects.get()
    assert order.waits_for_vies
    return order


@pytest.mark.parametrize(
    ("detail", "words"),
    [
        ("URLError", "we konden VIES niet bereiken"),
        ("MS_UNAVAILABLE", "de belastingdienst van dat land gaf VIES geen antwoord"),
        ("HTTP 500", "VIES had een storing (HTTP 500)"),
        ("TimeoutError", "VIES antwoordde niet op tijd"),
    ],
)
def test_an_unavailable_answer_reads_as_a_sentence(detail, words):
    check = VatCheck(result=VatCheck.Result.UNAVAILABLE, detail=detail)
    assert words in check.explanation
    if not detail.startswith("HTTP"):
        assert detail not in check.explanation


def test_finance_sees_the_waiting_order_in_words(client, waiting, personas):
    log_in(client, personas.staff["finance"])
    text = _text(client.get(reverse("shop_backoffice:vat-checks")))
    assert waiting.number in text
    assert "VIES had een storing (HTTP 500)" in text


def test_finance_records_a_check_by_hand_and_the_order_goes_on(client, waiting, personas):
    finance = personas.staff["finance"]
    log_in(client, finance)
    response = client.post(
        reverse("shop_backoffice:vat-check-by-hand", kwargs={"order_id": waiting.pk}),
        {"valid": "yes", "method": "VIES-website op 4 december, raadplegingsnummer WAPI999"},
        follow=True,
    )
    assert "De controle is vastgelegd" in _text(response)
    waiting.refresh_from_db()
    assert waiting.vat_status == Order.Vat.VALID and not waiting.waits_for_vies
    check = waiting.vat_checks.order_by("-checked_at").first()
    assert check is not None and check.checked_by == finance and "WAPI999" in check.method
    assert check.is_manual and "Met de hand gecontroleerd: geldig" in check.explanation
    assert AuditEntry.objects.filter(action="shop.vat_checked_by_hand").count() == 1


def test_a_check_without_how_is_refused_and_changes_nothing(client, waiting, personas):
    log_in(client, personas.staff["finance"])
    response = client.post(
        reverse("shop_backoffice:vat-check-by-hand", kwargs={"order_id": waiting.pk}),
        {"valid": "yes", "method": "ok"},
    )
    assert response.status_code == 400
    waiting.refresh_from_db()
    assert waiting.waits_for_vies
    assert not waiting.vat_checks.filter(checked_by__isnull=False).exists()
