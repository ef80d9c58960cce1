"""Support's page of a customer: what runs for them at a glance, several values open at once."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kluis.audit.models import RevealRecord
from kluis.shop.testing import make_order
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _page(client, personas):
    url = reverse("backoffice:customer", kwargs={"customer_id": personas.customer_a.id})
    return client.get(url)


def _reveal(client, personas, field, case, keep=()):
    url = reverse("backoffice:customer-reveal", kwargs={"customer_id": personas.customer_a.id})
    data = {"field": field, "purpose": "contract_administration", "case": case, "keep": list(keep)}
    return client.post(url, data)


def test_the_customer_page_lists_orders_invoices_services_and_questions(client, personas):
    order = make_order(personas.customer_a)
    log_in(client, personas.staff["support"])
    page = _page(client, personas).content.decode()
    assert order.number in page
    for caption in ("Bestellingen", "Openstaande facturen", "Lopende diensten", "Open vragen"):
        assert f"<caption>{caption}</caption>" in page
    assert "alice@example.nl" not in page  # the summary holds no personal data


def test_revealed_values_stay_open_while_another_is_revealed(client, personas):
    case = f"order:{make_order(personas.customer_a).pk}"
    log_in(client, personas.staff["orders"])
    first = _reveal(client, personas, "email", case).content.decode()
    kept = re.findall(r'name="keep" value="([^"]+)"', first)
    assert kept and all(k == f"email|contract_administration|{case}" for k in kept)
    second = _reveal(client, personas, "phone", case, keep=kept[:1]).content.decode()
    assert "<output>alice@example.nl</output>" in second
    assert "<output>+31201234567</output>" in second
    # Every page that shows a value is a recorded look: the first page the email, the
    # second the email again and the phone.
    looks = sorted(
        sorted(r.categories) for r in RevealRecord.objects.filter(subject=personas.customer_a.id)
    )
    assert looks == [["user.contact.email"], ["user.contact.email", "user.contact.phone_number"]]


def test_a_forged_keep_value_reveals_nothing(client, personas):
    case = f"order:{make_order(personas.customer_a).pk}"
    log_in(client, personas.staff["orders"])
    page = _reveal(
        client, personas, "phone", case, keep=["email|legal_requests|", "nonsense"]
    ).content.decode()
    assert "alice@example.nl" not in page
