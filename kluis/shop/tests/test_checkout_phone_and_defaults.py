"""Walk-through fixes of the checkout that a browser is not needed for."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.shop.models import Order
from kluis.shop.tests.helpers import checkout, fill_cart

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_belgian_business_number_with_its_country_code_is_a_phone_number(client, catalogue, vies):
    token = fill_cart(client)
    response = checkout(
        client,
        token,
        kind="organisation",
        name="Jan Peeters",
        company_name="Peeters BV",
        street="Meir 1",
        postcode="2000",
        city="Antwerpen",
        country="BE",
        vat_number="BE0403019261",
        phone="+32 3 123 45 67",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    phone = order.customer.phone.reveal(
        purpose="contract_administration",
        actor=Actor.staff("t", {"orders"}),
        case=Case("order", str(order.pk)),
    )
    assert phone == "+3231234567"


def test_a_number_without_country_code_is_read_as_one_of_the_chosen_country(
    client, catalogue, vies
):
    token = fill_cart(client)
    response = checkout(
        client,
        token,
        kind="organisation",
        company_name="Peeters BV",
        country="BE",
        postcode="2000",
        vat_number="BE0403019261",
        phone="03 212 34 56",
    )
    assert response.status_code == 302


def test_a_number_too_short_for_its_country_is_still_refused(client, catalogue):
    token = fill_cart(client)
    response = checkout(client, token, phone="+32 3 12")
    assert response.status_code == 400
    assert "telefoonnummer" in response.content.decode()
    assert not Order.objects.exists()


def test_dot_nl_is_the_extension_offered_first(client, catalogue):
    html = client.get(reverse("shop:catalogue")).content.decode()
    assert '<option value="nl" selected>.nl</option>' in html
