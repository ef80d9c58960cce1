"""Police and justice requests (R9, R30): order, scope, four eyes, only what was approved."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from kluis.audit.models import Disclosure
from kluis.rights import legal_requests, services
from kluis.rights.models import PoliceRequest
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def _register(personas, by):
    return legal_requests.police_register(
        customer=personas.customer_a,
        authority="Politie Eenheid Amsterdam",
        legal_basis="art. 126nd Sv",
        order_reference="PL1300-2026-123",
        categories=["user.name", "user.contact.email", "user.contact.phone_number"],
        may_inform_subject=False,
        by=by,
    )


def test_the_registering_officer_cannot_approve_their_own_entry(personas):
    officer = personas.staff["privacy_officer"]
    police = _register(personas, officer)
    with pytest.raises(services.RightsError) as refused:
        legal_requests.police_decide(
            police=police, approve=True, categories=["user.name"], by=officer
        )
    assert refused.value.code == "four_eyes"


def test_the_answer_holds_only_the_approved_categories_and_is_a_disclosure(client, personas):
    first = personas.staff["privacy_officer"]
    second = make_staff(roles=["privacy_officer"])
    police = _register(personas, first)
    legal_requests.police_decide(police=police, approve=True, categories=["user.name"], by=second)
    log_in(client, second)
    response = client.post(
        reverse("rights_backoffice:police-answer", kwargs={"police_id": police.pk})
    )
    answer = json.loads(response.content)
    assert {v["category"] for v in answer["values"]} == {"user.name"}
    assert "alice@example.nl" not in response.content.decode()
    disclosure = Disclosure.objects.get()
    assert disclosure.recipient == "police_justice" and disclosure.purpose == "legal_requests"
    assert disclosure.categories == ["user.name"]
    assert disclosure.reference == "art. 126nd Sv; PL1300-2026-123"
    police.refresh_from_db()
    assert police.status == "answered" and not police.may_inform_subject
    again = client.post(reverse("rights_backoffice:police-answer", kwargs={"police_id": police.pk}))
    assert again.status_code == 302 and Disclosure.objects.count() == 1


def test_approving_a_category_the_order_did_not_ask_for_is_refused(personas):
    police = _register(personas, personas.staff["privacy_officer"])
    with pytest.raises(services.RightsError):
        legal_requests.police_decide(
            police=police,
            approve=True,
            categories=["kluis.vat_number"],
            by=make_staff(roles=["privacy_officer"]),
        )
    assert PoliceRequest.objects.get().status == "registered"


def test_a_police_request_is_registered_through_the_back_office(client, personas):
    log_in(client, personas.staff["privacy_officer"])
    response = client.post(
        reverse("rights_backoffice:police"),
        {
            "customer_number": personas.customer_a.number,
            "authority": "OM Rotterdam",
            "legal_basis": "art. 126nc Sv",
            "order_reference": "R-1",
            "categories": ["user.name"],
            "may_inform_subject": "on",
        },
    )
    police = PoliceRequest.objects.get()
    assert response.status_code == 302 and police.may_inform_subject
    assert police.subject == personas.customer_a.pk
