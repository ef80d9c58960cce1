"""The back office: navigation by role, exact search, masked values, reveal on purpose."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.accounts.models import User
from kluis.audit.models import AuditEntry, RevealRecord
from kluis.rights.testing import alice_request
from kluis.shop.testing import make_order
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _reveal(client, personas, field="email", purpose="contract_administration", case=""):
    url = reverse("backoffice:customer-reveal", kwargs={"customer_id": personas.customer_a.id})
    return client.post(url, {"field": field, "purpose": purpose, "case": case})


def _alice_order_case(personas) -> str:
    return f"order:{make_order(personas.customer_a).pk}"


def test_navigation_shows_each_role_its_own_pages(client, personas):
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("backoffice:home")).content.decode()
    assert reverse("backoffice:customers") in page and reverse("backoffice:staff") not in page
    log_in(client, personas.staff["admin"])
    page = client.get(reverse("backoffice:home")).content.decode()
    assert reverse("backoffice:customers") not in page and reverse("backoffice:staff") in page


@pytest.mark.parametrize(
    "text", ["alice@example.nl", "ALICE@example.nl", "alice   de  vries", "NL 000099998B57"]
)
def test_search_finds_a_customer_by_exact_email_name_or_vat_number(client, personas, text):
    log_in(client, personas.staff["support"])
    response = client.post(reverse("backoffice:customers"), {"q": text})
    assert [c.pk for c in response.context["found"]] == [personas.customer_a.pk]


def test_search_finds_a_customer_by_customer_number(client, personas):
    log_in(client, personas.staff["support"])
    number = personas.customer_a.number
    for text in (number, number.lower(), f" {number[:3]} {number[3:]} "):
        response = client.post(reverse("backoffice:customers"), {"q": text})
        assert [c.pk for c in response.context["found"]] == [personas.customer_a.pk]
    partial = client.post(reverse("backoffice:customers"), {"q": number[:-1]})
    assert partial.context["found"] == []


@pytest.mark.parametrize("text", ["alice", "example.nl", "Alice de Vr", "%"])
def test_search_finds_nothing_on_a_partial_match(client, personas, text):
    log_in(client, personas.staff["support"])
    assert client.post(reverse("backoffice:customers"), {"q": text}).context["found"] == []


def test_search_keeps_what_was_searched_out_of_urls_and_the_audit_log(client, personas):
    log_in(client, personas.staff["support"])
    client.post(reverse("backoffice:customers"), {"q": "alice@example.nl"})
    entry = AuditEntry.objects.get(action="backoffice.customer_search")
    assert "alice" not in entry.payload and '"found":1' in entry.payload


def test_the_customer_page_masks_every_value(client, personas):
    log_in(client, personas.staff["orders"])
    url = reverse("backoffice:customer", kwargs={"customer_id": personas.customer_a.id})
    page = client.get(url).content.decode()
    assert "alice@example.nl" not in page and "Alice de Vries" not in page
    assert "••••••••" in page
    assert not RevealRecord.objects.exists()


def test_the_reveal_form_lists_only_purposes_the_role_allows(client, personas):
    log_in(client, personas.staff["orders"])
    url = reverse("backoffice:customer", kwargs={"customer_id": personas.customer_a.id})
    response = client.get(url)
    rows = {f.name: f for f, _, _ in response.context["rows"]}
    forms = {f.name: form for f, _, form in response.context["rows"]}
    offered = {key for key, _ in rows["email"].purposes}
    assert "contract_administration" in offered and "invoicing" not in offered
    # the row's form offers just those, in the design system's one-row form
    html = str(forms["email"]["purpose"])
    assert 'value="contract_administration"' in html and 'value="invoicing"' not in html
    assert '<label class="form-label visually-hidden" for="reveal-email-purpose">' in (
        response.content.decode()
    )
    assert rows["vat_number"].held and rows["address_street"].held is False


def test_a_reveal_for_an_allowed_purpose_shows_the_value_and_is_audited(client, personas):
    log_in(client, personas.staff["orders"])
    case = _alice_order_case(personas)
    response = _reveal(client, personas, case=case)
    assert "<output>alice@example.nl</output>" in response.content.decode()
    record = RevealRecord.objects.get(subject=personas.customer_a.id)
    assert record.purpose == "contract_administration" and record.categories == [
        "user.contact.email"
    ]
    assert record.case == case
    entry = AuditEntry.objects.get(action="vault.reveal")
    assert entry.actor == f"user:{personas.staff['orders'].pk}" and "alice@" not in entry.payload


def test_a_refused_reveal_shows_a_clear_error_and_is_on_record(client, personas):
    log_in(client, personas.staff["orders"])
    response = _reveal(client, personas, purpose="invoicing")  # finance only
    assert response.status_code == 200
    page = response.content.decode()
    assert "Niet toegestaan" in page and "alice@example.nl" not in page
    assert AuditEntry.objects.filter(action="vault.reveal_refused").count() == 1
    assert not RevealRecord.objects.exists()


def test_a_privacy_officer_reveals_for_a_data_subject_request_but_not_for_contracts(
    client, personas
):
    log_in(client, personas.staff["privacy_officer"])
    case = f"rights_request:{alice_request(personas).pk}"
    assert (
        "alice@example.nl"
        in _reveal(client, personas, purpose="data_subject_rights", case=case).content.decode()
    )
    order = _alice_order_case(personas)
    assert (
        "Niet toegestaan"
        in _reveal(client, personas, purpose="contract_administration", case=order).content.decode()
    )


def test_a_purpose_that_does_not_use_the_value_is_a_form_error(client, personas):
    log_in(client, personas.staff["support"])
    response = _reveal(client, personas, field="vat_number", purpose="answer_questions")
    assert "Dit doel gebruikt dit gegeven niet." in response.content.decode()
    response = _reveal(client, personas, field="password", purpose="no_such_purpose")
    assert response.status_code == 200 and not RevealRecord.objects.exists()


def test_an_admin_changes_roles_and_the_change_is_audited(client, personas):
    log_in(client, personas.staff["admin"])
    target = personas.staff["support"]
    client.post(
        reverse("backoffice:staff-roles", kwargs={"user_id": target.pk}),
        {"roles": ["support", "orders"]},
    )
    assert User.objects.get(pk=target.pk).roles == ["orders", "support"]
    entry = AuditEntry.objects.get(action="accounts.roles_changed")
    assert (
        '"before":["support"]' in entry.payload and '"after":["orders","support"]' in entry.payload
    )


def test_an_admin_cannot_take_away_their_own_admin_role(client, personas):
    admin = personas.staff["admin"]
    log_in(client, admin)
    client.post(
        reverse("backoffice:staff-roles", kwargs={"user_id": admin.pk}), {"roles": ["support"]}
    )
    assert User.objects.get(pk=admin.pk).roles == ["admin"]


def test_an_admin_invites_staff_who_activate_with_a_link(client, personas):
    from django.core import mail

    log_in(client, personas.staff["admin"])
    client.post(
        reverse("backoffice:staff"),
        {"name": "Lotte Visser", "email": "nieuw@winkeltjes.net", "roles": ["support"]},
    )
    user = User.objects.get_by_email("nieuw@winkeltjes.net")
    assert user is not None and user.roles == ["support"] and not user.has_usable_password()
    assert user.display_name == "Lotte Visser"
    assert (
        mail.outbox[0].to == ["nieuw@winkeltjes.net"]
        and "/account/activeren/" in mail.outbox[0].body
    )


def test_roles_that_handle_agreements_are_exactly_those_with_customer_purposes():
    """R33: the policy decides which roles come near customer data; admin does not."""
    from kluis.accounts.selectors import CUSTOMER_ROLES
    from kluis.policy.loader import current_policy

    policy = current_policy()
    customer_categories = {"user.name", "user.contact.email", "user.contact.address"}
    with_access = {
        role
        for purpose in policy.purposes.values()
        if set(purpose.categories) & customer_categories
        for role in purpose.actors
        if role in policy.roles
    }
    assert with_access == CUSTOMER_ROLES


def test_the_first_admin_is_invited_from_the_command_line(db):
    from django.core import mail
    from django.core.management import CommandError, call_command

    call_command("staff_invite", "baas@winkeltjes.net", roles="admin")
    user = User.objects.get_by_email("baas@winkeltjes.net")
    assert user is not None and user.is_staff_member and user.roles == ["admin"]
    assert "/account/activeren/" in mail.outbox[0].body
    with pytest.raises(CommandError):
        call_command("staff_invite", "baas@winkeltjes.net", roles="admin")
    with pytest.raises(CommandError):
        call_command("staff_invite", "ander@winkeltjes.net", roles="root")


def test_a_refused_reveal_of_an_empty_field_is_shown_and_on_record_like_any_other(client, personas):
    customer = personas.customer_a
    assert customer.address_street is None  # Alice gave no street
    log_in(client, personas.staff["orders"])
    response = _reveal(client, personas, field="address_street", purpose="invoicing")
    assert "Niet toegestaan" in response.content.decode()
    refused = AuditEntry.objects.get(action="vault.reveal_refused")
    assert refused.subject == customer.id and "invoicing" in refused.payload
