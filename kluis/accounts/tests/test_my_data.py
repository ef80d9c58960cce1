"""'My data': what the vault holds for a customer, why, until when, who got and saw it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.accounts.models import Customer, EmailChange
from kluis.accounts.selectors import my_data
from kluis.audit.disclosures import disclosure_record
from kluis.policy.enforce import Actor
from kluis.testing import log_in
from kluis.vault.holdings import sealed_holdings

pytestmark = pytest.mark.django_db(databases="__all__")


def test_holdings_are_found_generically_across_models(personas):
    EmailChange(user=personas.alice, new_email="nieuw@example.nl", token_hash="x" * 64).save()
    found = {(h.row._meta.label, h.field.name) for h in sealed_holdings(personas.customer_a.id)}
    assert found == {
        ("accounts.Customer", "name"),
        ("accounts.Customer", "email"),
        ("accounts.Customer", "phone"),
        ("accounts.Customer", "vat_number"),
        ("accounts.User", "email"),
        ("accounts.EmailChange", "new_email"),
    }
    assert all(
        h.row.vault_subject() == personas.customer_a.id
        for h in sealed_holdings(personas.customer_a.id)
    )


def test_only_categories_held_for_this_customer_are_shown_with_their_values(client, personas):
    log_in(client, personas.alice)
    response = client.get(reverse("portal:my-data"))
    page = response.content.decode()
    keys = [c.key for c in response.context["data"].categories]
    assert sorted(keys) == sorted(
        [
            "user.name",
            "user.contact.email",
            "user.contact.phone_number",
            "kluis.vat_number",
            "user.authorization.password",
        ]
    )
    assert "niemand kan het lezen" in page
    assert "Alice de Vries" in page and "alice@example.nl" in page and "+31201234567" in page
    assert "Bob" not in page and "bob@example.nl" not in page
    assert 'data-category="user.contact.address"' not in page


def test_each_category_says_why_on_what_ground_and_until_when(client, personas):
    data = my_data(personas.customer_a)
    email = next(c for c in data.categories if c.key == "user.contact.email")
    assert {p.legal_basis for p in email.purposes} >= {"uitvoering van de overeenkomst"}
    assert email.retention == "zolang je klant bent, en daarna nog 1 jaar"
    customer = Customer.objects.get(pk=personas.customer_a.pk)
    customer.contract_ended_at = timezone.make_aware(dt.datetime(2025, 3, 31, 12))
    customer.save(update_fields=["contract_ended_at"])
    email = next(c for c in my_data(customer).categories if c.key == "user.contact.email")
    assert email.retention == "tot 31 maart 2026"


def test_disclosures_to_recipients_are_listed(client, personas):
    disclosure_record(
        subject=personas.customer_a.id,
        recipient="sidn",
        purpose="domain_registration",
        categories=["user.name", "user.contact.email"],
        actor=Actor.system("test"),
    )
    log_in(client, personas.alice)
    disclosures = client.get(reverse("portal:my-data")).context["data"].disclosures
    assert len(disclosures) == 1 and disclosures[0].purpose


def test_the_customer_sees_when_and_why_staff_looked(client, personas):
    staff = client.__class__()
    log_in(staff, personas.staff["finance"])
    staff.post(
        reverse("backoffice:customer-reveal", kwargs={"customer_id": personas.customer_a.id}),
        {"field": "email", "purpose": "invoicing"},
    )
    log_in(client, personas.alice)
    [reveal] = client.get(reverse("portal:my-data")).context["data"].reveals
    assert reveal.purpose == "facturatie en administratie"
    assert reveal.categories and reveal.who == "een medewerker"


def test_a_customer_looking_at_their_own_data_is_not_shown_as_a_staff_look(client, personas):
    log_in(client, personas.alice)
    client.get(reverse("portal:my-data"))
    assert client.get(reverse("portal:my-data")).context["data"].reveals == []


def test_my_data_is_in_english_for_an_english_session(client, personas):
    log_in(client, personas.alice)
    client.post(reverse("set_language"), {"language": "en"})
    page = client.get(reverse("portal:my-data")).content.decode()
    assert "Why we keep this" in page and "performance of the contract" in page
