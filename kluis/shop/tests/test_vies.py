"""The VIES adapter against a local server replaying recorded answers, and what they do."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from kluis.shop.models import Order, VatCheck
from kluis.shop.tests.conftest import (
    VIES_ERROR_WRAPPER,
    VIES_INVALID,
    VIES_MS_UNAVAILABLE,
    VIES_VALID,
)
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.shop.vies import vies_check

BUSINESS = {
    "kind": "organisation",
    "company_name": "Peeters BV",
    "country": "BE",
    "postcode": "2000",
    "vat_number": "BE 0403.019.261",
}


def test_a_valid_answer_is_valid_with_its_consultation_number(vies):
    vies.answer(200, VIES_VALID)
    answer = vies_check(country="BE", number="0403019261")
    assert (answer.result, answer.request_identifier) == ("valid", "WAPIAAAAW1234567")
    assert vies.requests == [{"countryCode": "BE", "vatNumber": "0403019261"}]
    assert len(answer.answer_sha256) == 64


def test_an_invalid_answer_is_invalid(vies):
    vies.answer(200, VIES_INVALID)
    assert vies_check(country="BE", number="0403019261").result == "invalid"


@pytest.mark.parametrize(
    ("status", "body", "delay", "detail"),
    [
        (200, VIES_MS_UNAVAILABLE, 0, "MS_UNAVAILABLE"),
        (200, VIES_ERROR_WRAPPER, 0, "MS_UNAVAILABLE"),
        (500, None, 0, "HTTP 500"),
        (200, None, 0, "NotJson"),
        (200, VIES_VALID, 2.0, ""),  # slower than the 1 s timeout
    ],
)
def test_anything_but_a_verdict_is_unavailable(vies, status, body, delay, detail):
    vies.answer(status, body, delay)
    answer = vies_check(country="BE", number="0403019261")
    assert answer.result == "unavailable"
    if detail:
        assert answer.detail == detail
    else:
        assert answer.detail in ("TimeoutError", "URLError", "timeout")


def test_an_unreachable_vies_is_unavailable(monkeypatch):
    answer = vies_check(country="BE", number="0403019261", url="http://127.0.0.1:9/", timeout=1)
    assert answer.result == "unavailable"


@pytest.mark.django_db(databases="__all__")
def test_a_valid_number_is_kept_as_evidence_and_the_customer_gets_reverse_charge(
    client, catalogue, vies
):
    vies.answer(200, VIES_VALID)
    assert checkout(client, fill_cart(client), **BUSINESS).status_code == 302
    order = Order.objects.get()
    assert order.vat_status == Order.Vat.VALID
    [check] = VatCheck.objects.all()
    assert (check.result, check.request_identifier, check.country) == (
        "valid",
        "WAPIAAAAW1234567",
        "BE",
    )
    assert check.vat_number.category == "kluis.vat_number"
    raw = VatCheck.objects.filter(pk=check.pk).values_list("vat_number", flat=True)[0]
    assert b"0403019261" not in bytes(raw)
    assert order.customer.vat_index  # on file, so not asked again


@pytest.mark.django_db(databases="__all__")
def test_asking_vies_is_a_recorded_disclosure_of_the_vat_number(client, catalogue, vies):
    from kluis.audit.models import Disclosure

    vies.answer(200, VIES_VALID)
    assert checkout(client, fill_cart(client), **BUSINESS).status_code == 302
    order = Order.objects.get()
    [disclosure] = Disclosure.objects.filter(recipient="vies")
    assert disclosure.subject == order.customer_id
    assert (disclosure.purpose, disclosure.categories) == ("invoicing", ["kluis.vat_number"])
    assert disclosure.reference == "WAPIAAAAW1234567"  # VIES' consultation number


@pytest.mark.django_db(databases="__all__")
def test_an_invalid_number_makes_the_customer_pay_vat(client, catalogue, vies):
    vies.answer(200, VIES_INVALID)
    assert checkout(client, fill_cart(client), **BUSINESS).status_code == 302
    assert Order.objects.get().vat_status == Order.Vat.INVALID


@pytest.mark.django_db(databases="__all__")
def test_when_vies_is_down_the_order_waits_and_the_retry_job_checks_again(
    client, catalogue, vies, personas
):
    vies.answer(500)
    assert checkout(client, fill_cart(client), **BUSINESS).status_code == 302
    order = Order.objects.get()
    assert order.vat_status == Order.Vat.PENDING and order.waits_for_vies
    # Not exempt while waiting: staff cannot move it on to payment.
    from kluis.shop import services

    with pytest.raises(services.ShopError) as refused:
        services.order_move(order=order, to="awaiting_payment", by=personas.staff["orders"])
    assert refused.value.code == "waits_for_vies"
    vies.answer(200, VIES_MS_UNAVAILABLE)
    call_command("shop_vies_retry")
    assert Order.objects.get().vat_status == Order.Vat.PENDING
    vies.answer(200, VIES_VALID)
    call_command("shop_vies_retry")
    order.refresh_from_db()
    assert order.vat_status == Order.Vat.VALID
    assert list(order.vat_checks.values_list("result", flat=True)) == [
        "unavailable",
        "unavailable",
        "valid",
    ]
    services.order_move(order=order, to="awaiting_payment", by=personas.staff["orders"])
