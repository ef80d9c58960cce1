"""A reveal needs a declared purpose, a category that purpose may use, and an actor
the purpose allows; every refusal and every allowed reveal is on the audit chain."""

import json

import pytest

from kluis.accounts.models import Customer
from kluis.audit.models import AuditEntry, RevealRecord
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.vault.errors import RevealRefused
from kluis.vault.tests.helpers import make_customer

pytestmark = pytest.mark.django_db(databases="__all__")


def _last_entry() -> dict:
    return json.loads(AuditEntry.objects.order_by("-seq").first().payload)


def test_an_undeclared_purpose_is_refused_and_audited():
    customer = Customer.objects.get(pk=make_customer().pk)
    with pytest.raises(RevealRefused, match="not declared"):
        customer.email.reveal(purpose="marketing", actor=Actor.staff("u1", {"orders"}))
    entry = _last_entry()
    assert entry["action"] == "vault.reveal_refused"
    assert entry["data"]["purpose"] == "marketing"
    assert entry["subject"] == str(customer.pk)


def test_a_role_not_allowed_for_the_purpose_is_refused_and_audited():
    customer = Customer.objects.get(pk=make_customer().pk)
    assert "admin" not in current_policy().purposes["invoicing"].actors
    with pytest.raises(RevealRefused, match="may not act"):
        customer.name.reveal(purpose="invoicing", actor=Actor.staff("u2", {"admin"}))
    entry = _last_entry()
    assert entry["action"] == "vault.reveal_refused"
    assert entry["actor"] == "user:u2"


def test_a_purpose_that_may_not_use_the_category_is_refused():
    customer = Customer.objects.get(pk=make_customer().pk)
    purpose = current_policy().purposes["payment_matching"]
    assert "user.contact.phone_number" not in purpose.categories
    with pytest.raises(RevealRefused, match="may not use category"):
        customer.phone.reveal(purpose="payment_matching", actor=Actor.staff("u3", {"finance"}))


def test_a_customer_may_read_only_their_own_data():
    mine = make_customer(name="Mijn naam")
    other = Customer.objects.get(pk=make_customer(name="Andermans naam").pk)
    with pytest.raises(RevealRefused, match="their own"):
        other.name.reveal(purpose="contract_administration", actor=Actor.subject(mine.pk))
    me = Customer.objects.get(pk=mine.pk)
    assert me.name.reveal(purpose="contract_administration", actor=Actor.subject(mine.pk)) == (
        "Mijn naam"
    )


def test_an_allowed_staff_reveal_is_audited_and_shown_to_the_person():
    customer = Customer.objects.get(pk=make_customer().pk)
    customer.email.reveal(purpose="order_status", actor=Actor.staff("u4", {"orders"}))
    entry = _last_entry()
    assert entry["action"] == "vault.reveal"
    assert entry["data"] == {
        "purpose": "order_status",
        "categories": ["user.contact.email"],
        "subjects": [str(customer.pk)],
    }
    record = RevealRecord.objects.get(subject=customer.pk)
    assert record.purpose == "order_status"
    assert record.actor == "user:u4"
