"""Reveals bound to a case (R33): staff see a person's data for a case-bound purpose only
within an open case of that person; the reveal records the case, the person sees it,
and a reveal without one is refused and audited."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.audit.models import AuditEntry, RevealRecord
from kluis.billing import services as billing
from kluis.billing.models import CollectionHandover
from kluis.billing.tests.helpers import order_for
from kluis.policy.cases import Case, case_kinds
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.rights.models import PoliceRequest, RightsRequest
from kluis.rights.testing import alice_request
from kluis.shop.models import Order
from kluis.shop.testing import make_order
from kluis.testing import log_in
from kluis.vault.errors import RevealRefused
from kluis.vault.reveal import reveal_many
from kluis.web.models import Question

pytestmark = pytest.mark.django_db(databases="__all__")

CASE_BOUND = {
    "answer_questions": ["question", "help_request"],
    "contract_administration": ["order", "question"],
    "collections": ["collection_handover"],
    "legal_requests": ["police_request"],
    "data_subject_rights": ["rights_request"],
}


def _staff(personas, role: str) -> Actor:
    return personas.staff[role].actor()


def _last() -> dict:
    return json.loads(AuditEntry.objects.order_by("-seq").first().payload)


def _customer(personas, name: str = "a") -> Customer:
    return Customer.objects.get(pk=getattr(personas, f"customer_{name}").pk)


def _question_from(email: str, *, closed: bool = False) -> Question:
    question = Question(name="Alice", email=email, message="Waar blijft mijn site?")
    question.reference = f"V{Question.objects.count() + 1:05d}"
    question.closed_at = timezone.now() if closed else None
    question.save()
    return question


def test_the_policy_says_which_purposes_need_a_case_and_each_kind_exists():
    policy = current_policy()
    bound = {k: list(p.case.kinds) for k, p in policy.purposes.items() if p.case is not None}
    assert bound == CASE_BOUND
    used = {kind for kinds in bound.values() for kind in kinds}
    assert used == set(case_kinds())


def test_a_staff_reveal_without_a_case_is_refused_and_audited(personas):
    alice = _customer(personas)
    with pytest.raises(RevealRefused, match="needs a case of this person"):
        alice.email.reveal(purpose="contract_administration", actor=_staff(personas, "support"))
    entry = _last()
    assert entry["action"] == "vault.reveal_refused"
    assert entry["subject"] == str(alice.pk)
    assert entry["data"]["purpose"] == "contract_administration"
    assert not RevealRecord.objects.filter(subject=alice.pk).exists()


def test_an_open_order_of_the_customer_opens_it_and_the_case_is_recorded(personas):
    alice = _customer(personas)
    order = make_order(alice)
    case = Case("order", str(order.pk))
    email = alice.email.reveal(
        purpose="contract_administration", actor=_staff(personas, "support"), case=case
    )
    assert email == "alice@example.nl"
    entry = _last()
    assert entry["action"] == "vault.reveal" and entry["data"]["case"] == str(case)
    record = RevealRecord.objects.get(subject=alice.pk)
    assert record.case == str(case)


@pytest.mark.parametrize(
    "status", [Order.Status.DELIVERED, Order.Status.CANCELLED], ids=["delivered", "cancelled"]
)
def test_a_finished_order_is_no_case(personas, status):
    alice = _customer(personas)
    order = make_order(alice, status=status)
    with pytest.raises(RevealRefused, match="not an open case"):
        alice.email.reveal(
            purpose="contract_administration",
            actor=_staff(personas, "orders"),
            case=Case("order", str(order.pk)),
        )
    assert _last()["data"]["case"] == f"order:{order.pk}"


def test_another_customers_order_does_not_open_this_one(personas):
    bob = _customer(personas, "b")
    alices_order = make_order(_customer(personas))
    with pytest.raises(RevealRefused, match="not an open case"):
        bob.name.reveal(
            purpose="contract_administration",
            actor=_staff(personas, "support"),
            case=Case("order", str(alices_order.pk)),
        )


def test_a_case_of_a_kind_the_purpose_does_not_take_is_refused(personas):
    alice = _customer(personas)
    request = alice_request(personas, "access")
    with pytest.raises(RevealRefused, match="not a case for purpose"):
        alice.email.reveal(
            purpose="contract_administration",
            actor=_staff(personas, "support"),
            case=Case("rights_request", str(request.pk)),
        )


def test_an_open_question_from_the_customers_address_is_a_case_and_a_closed_one_not(personas):
    alice = _customer(personas)
    support = _staff(personas, "support")
    open_question = _question_from("alice@example.nl")
    closed = _question_from("alice@example.nl", closed=True)
    bobs = _question_from("bob@example.nl")
    case = Case("question", str(open_question.pk))
    assert alice.phone.reveal(purpose="contract_administration", actor=support, case=case)
    for other in (closed, bobs):
        with pytest.raises(RevealRefused):
            alice.phone.reveal(
                purpose="contract_administration",
                actor=support,
                case=Case("question", str(other.pk)),
            )


def test_the_privacy_officer_needs_an_open_request_of_that_person(personas):
    alice = _customer(personas)
    officer = _staff(personas, "privacy_officer")
    with pytest.raises(RevealRefused, match="needs a case"):
        alice.email.reveal(purpose="data_subject_rights", actor=officer)
    request = alice_request(personas, "restriction")
    case = Case("rights_request", str(request.pk))
    assert alice.email.reveal(purpose="data_subject_rights", actor=officer, case=case)
    bob = _customer(personas, "b")
    with pytest.raises(RevealRefused, match="not an open case"):
        bob.email.reveal(purpose="data_subject_rights", actor=officer, case=case)
    RightsRequest.objects.filter(pk=request.pk).update(status=RightsRequest.Status.DONE)
    with pytest.raises(RevealRefused, match="not an open case"):
        alice.email.reveal(purpose="data_subject_rights", actor=officer, case=case)


def test_a_police_request_is_a_case_only_once_approved(personas):
    alice = _customer(personas)
    officer = _staff(personas, "privacy_officer")
    police = PoliceRequest.objects.create(
        authority="Politie Amsterdam",
        legal_basis="art. 126nd Sv",
        order_reference="PV-1",
        subject=alice.pk,
        categories=["user.name"],
        registered_by="user:another-officer",
    )
    case = Case("police_request", str(police.pk))
    with pytest.raises(RevealRefused, match="not an open case"):
        reveal_many([alice], ["name"], purpose="legal_requests", actor=officer, case=case)
    police.status = PoliceRequest.Status.APPROVED
    police.save()
    [values] = reveal_many([alice], ["name"], purpose="legal_requests", actor=officer, case=case)
    assert values["name"] == "Alice de Vries"


def test_collections_needs_the_hand_over_of_that_customers_invoice(personas):
    alice, bob = _customer(personas), _customer(personas, "b")
    finance = _staff(personas, "finance")
    invoice = billing.invoice_issue(
        order=order_for(alice), issued_by=None, issue_date=dt.date(2026, 3, 2)
    )
    handover = CollectionHandover.objects.create(
        invoice=invoice, proposed_by=personas.staff["finance"], open_cents=100, costs_cents=40
    )
    case = Case("collection_handover", str(handover.pk))
    assert alice.name.reveal(purpose="collections", actor=finance, case=case)
    with pytest.raises(RevealRefused):
        bob.name.reveal(purpose="collections", actor=finance, case=case)
    handover.status = CollectionHandover.Status.REJECTED
    handover.save()
    with pytest.raises(RevealRefused, match="not an open case"):
        alice.name.reveal(purpose="collections", actor=finance, case=case)


def test_a_bulk_reveal_checks_the_case_for_every_person(personas):
    alice, bob = _customer(personas), _customer(personas, "b")
    case = Case("order", str(make_order(alice).pk))
    support = _staff(personas, "support")
    assert reveal_many(
        [alice], ["email"], purpose="contract_administration", actor=support, case=case
    )
    with pytest.raises(RevealRefused, match="not an open case"):
        reveal_many(
            [alice, bob], ["email"], purpose="contract_administration", actor=support, case=case
        )
    assert _last()["subject"] == str(bob.pk)


def test_the_worker_and_the_person_themself_need_no_case(personas):
    alice = _customer(personas)
    assert alice.email.reveal(purpose="collections", actor=Actor.system("test"))
    assert alice.email.reveal(purpose="contract_administration", actor=Actor.subject(alice.pk))


def test_a_malformed_or_unknown_case_is_refused(personas):
    alice = _customer(personas)
    support = _staff(personas, "support")
    for case in (
        Case("order", "not-a-uuid"),
        Case("order", "00000000-0000-0000-0000-000000000000"),
    ):
        with pytest.raises(RevealRefused):
            alice.email.reveal(purpose="contract_administration", actor=support, case=case)


# --- the back office's customer page and "Mijn gegevens" ---------------------------


def test_the_customer_page_offers_the_open_cases_and_reveals_within_one(client, personas):
    alice = _customer(personas)
    order = make_order(alice)
    make_order(alice, status=Order.Status.DELIVERED)
    make_order(_customer(personas, "b"))
    log_in(client, personas.staff["support"])
    url = reverse("backoffice:customer", kwargs={"customer_id": alice.pk})
    page = client.get(url).content.decode()
    assert f'<option value="order:{order.pk}">bestelling {order.number}</option>' in page
    assert page.count('<option value="order:') == page.count('<select name="case"')
    reveal = reverse("backoffice:customer-reveal", kwargs={"customer_id": alice.pk})
    refused = client.post(reveal, {"field": "email", "purpose": "contract_administration"})
    assert "Niet toegestaan" in refused.content.decode()
    assert "<output>alice@example.nl</output>" not in refused.content.decode()
    assert _last()["action"] == "vault.reveal_refused"
    shown = client.post(
        reveal,
        {"field": "email", "purpose": "contract_administration", "case": f"order:{order.pk}"},
    )
    assert "<output>alice@example.nl</output>" in shown.content.decode()


def test_my_data_shows_the_case_each_staff_look_served(client, personas):
    alice = _customer(personas)
    order = make_order(alice)
    alice.email.reveal(
        purpose="contract_administration",
        actor=_staff(personas, "support"),
        case=Case("order", str(order.pk)),
    )
    alice.email.reveal(purpose="invoicing", actor=_staff(personas, "finance"))
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert f"<td data-case>bestelling {order.number}</td>" in page
    assert "<td data-case>—</td>" in page


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_statement_says_which_purposes_need_a_case(client, language):
    page = client.get(reverse("policy:statement", kwargs={"lang": language}))
    text = page.content.decode()
    policy = current_policy()
    for key, purpose in policy.purposes.items():
        if purpose.case is not None:
            assert purpose.case.label.get(language) in text, key
    sentence = {
        "nl": "Een medewerker ziet je gegevens voor dit doel alleen bij ",
        "en": "A member of staff sees your data for this purpose only within ",
    }[language]
    assert text.count(sentence) == len(CASE_BOUND)
