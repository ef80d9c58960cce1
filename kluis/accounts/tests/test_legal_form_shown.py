"""An organisation's legal form in its copy, on "Mijn gegevens" and in the API."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from kluis.accounts.models import Customer
from kluis.accounts.services import legal_form_set
from kluis.api.testing import bearer, problem_of, token_for
from kluis.policy.enforce import Actor
from kluis.rights.export import build_export
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _organisation(personas: Personas) -> Customer:
    customer = personas.customer_a
    customer.kind = Customer.Kind.ORGANISATION
    customer.company_name = "Visser Webdesign"
    customer.save()
    return customer


def _facts(customer: Customer, language: str) -> list[tuple[str, str, str]]:
    copy = build_export(subject=customer.pk, actor=Actor.subject(customer.pk), language=language)
    return [
        (r["kind"], r["reference"], f["label"] + ": " + f["value"])
        for r in copy["records"]
        for f in r["facts"]
    ]


def test_the_copy_names_the_legal_form_in_dutch_and_english(personas: Personas) -> None:
    customer = _organisation(personas)
    assert _facts(customer, "nl") == [
        ("klantaccount", customer.number, "rechtsvorm: (niet opgegeven)")
    ]
    legal_form_set(customer=customer, legal_form="bv", by=personas.alice)
    assert _facts(customer, "nl") == [
        ("klantaccount", customer.number, "rechtsvorm: besloten vennootschap (bv)")
    ]
    assert _facts(customer, "en") == [
        ("customer account", customer.number, "legal form: private limited company (bv)")
    ]


def test_a_person_has_no_legal_form_in_the_copy(personas: Personas) -> None:
    assert _facts(personas.customer_a, "nl") == []


def test_my_data_shows_the_legal_form(client, personas: Personas) -> None:
    customer = _organisation(personas)
    legal_form_set(customer=customer, legal_form="stichting", by=personas.alice)
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert f"Klantaccount {customer.number}" in page and "Rechtsvorm: stichting" in page
    client.post(reverse("set_language"), {"language": "en"})
    page = client.get(reverse("portal:my-data")).content.decode()
    assert f"Customer account {customer.number}" in page
    assert "Legal form: foundation (stichting)" in page


def test_the_api_reads_the_legal_form_and_does_not_change_it(client, personas: Personas) -> None:
    customer = _organisation(personas)
    token = token_for(personas.alice, ["account:read", "account:write"])
    assert json.loads(client.get("/api/v1/account", **bearer(token)).content)["legal_form"] is None
    legal_form_set(customer=customer, legal_form="vof", by=personas.alice)
    assert json.loads(client.get("/api/v1/account", **bearer(token)).content)["legal_form"] == "vof"
    # Read-only here: the legal form is chosen on its own page, through its own service.
    patched = client.patch(
        "/api/v1/account",
        json.dumps({"legal_form": "bv"}),
        content_type="application/json",
        **bearer(token),
    )
    problem_of(patched, 422, "invalid")
    customer.refresh_from_db()
    assert customer.legal_form == "vof"
