"""Erasure (R38-R40): shred what may go, keep fiscal records, say why, every time."""

from __future__ import annotations

import pytest

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_verify
from kluis.rights import emails, services
from kluis.rights.erasure import Blocker, register_erasure_blocker, unregister_erasure_blocker
from kluis.rights.models import Erasure, RightsRequest
from kluis.rights.tests.conftest import queued, rendered
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")


def _erase(personas):
    return services.erasure_request_from_portal(user=personas.alice)


def test_keys_without_a_legal_duty_are_shredded_and_fiscal_ones_kept(personas, later_model):
    alice = personas.customer_a
    later_model(customer_id=alice.pk, year=2023, kvk_number="1", billed_name="Alice").save()
    request = _erase(personas)
    keys = {
        (k.retention_class, k.period): k.is_shredded
        for k in DataKey.objects.filter(subject=alice.pk)
    }
    assert keys == {("customer_record", ""): True, ("fiscal", "2023"): False}
    kept = [i for i in request.outcome["items"] if i["status"] == "kept"]
    assert kept == [
        {
            "category": "user.name",
            "class": "fiscal",
            "period": "2023",
            "status": "kept",
            "until": "2030-12-31",
        }
    ]
    assert not User.objects.filter(customer_id=alice.pk).exists()
    assert Customer.objects.get(pk=alice.pk).email_index is None
    assert audit_verify().ok


def test_the_answer_names_each_category_and_the_legal_reason(personas, later_model):
    later_model(
        customer_id=personas.customer_a.pk, year=2023, kvk_number="1", billed_name="Alice"
    ).save()
    _erase(personas)
    mail = rendered(queued(emails.ANSWER)[0])
    assert mail.to == ["alice@example.nl"]
    assert "E-mailadres: gewist" in mail.body
    assert "Naam (boekjaar 2023): bewaard tot 31 december 2030 vanwege: art. 52 lid 4" in mail.body
    assert "Autoriteit Persoonsgegevens" in mail.body


def test_a_second_erasure_of_an_erased_person_gets_a_clear_answer(personas):
    first = _erase(personas)
    again = RightsRequest(
        kind="erasure",
        channel="staff",
        subject=first.subject,
        verification="email",
        due_on=first.due_on,
    )
    again.requester_email = "alice@example.nl"
    again.save()
    services.request_respond(request=again, by=personas.staff["privacy_officer"])
    again.refresh_from_db()
    assert again.status == "refused" and again.outcome["already_erased"]
    assert "al eerder gewist" in rendered(queued(emails.ANSWER)[-1]).body
    assert Erasure.objects.count() == 1


def test_an_open_invoice_holds_the_erasure_back_and_says_what_happens_next(personas):
    def open_invoice(subject):
        return [
            Blocker(
                "billing.open_invoice",
                "Er staat nog een factuur open.",
                "An invoice is still open.",
                "Zodra die is betaald of verrekend, wissen we je gegevens.",
                "Once it is paid or settled, we erase your data.",
            )
        ]

    register_erasure_blocker(open_invoice)
    try:
        request = _erase(personas)
    finally:
        unregister_erasure_blocker(open_invoice)
    assert request.status == "waiting"
    assert User.objects.filter(customer_id=personas.customer_a.pk).exists()
    assert not DataKey.objects.filter(subject=personas.customer_a.pk, wrapped__isnull=True)
    body = rendered(queued(emails.ANSWER)[0]).body
    assert "Er staat nog een factuur open." in body and "Zodra die is betaald" in body
    # Once the invoice is settled, one click finishes the request.
    services.request_respond(request=request, by=personas.staff["privacy_officer"])
    request.refresh_from_db()
    assert request.status == "done" and Erasure.objects.filter(subject=request.subject).exists()


def test_the_portal_asks_for_a_confirmation_before_erasing(client, personas):
    from django.urls import reverse

    from kluis.testing import log_in

    log_in(client, personas.alice)
    response = client.post(reverse("rights_portal:erase"), {})
    assert response.status_code == 200 and "Vink aan" in response.content.decode()
    assert not Erasure.objects.exists()


def test_an_english_speaking_customer_gets_the_answer_in_english(personas, later_model):
    alice = personas.customer_a
    alice.language = "en"
    alice.save(update_fields=["language"])
    later_model(customer_id=alice.pk, year=2023, kvk_number="1", billed_name="Alice").save()
    services.erasure_request_from_portal(user=personas.alice)
    mail = rendered(queued(emails.ANSWER)[0])
    assert "Email address: erased" in mail.body
    assert "Name (financial year 2023): kept until 31 December 2030 because of: Article 52(4)" in (
        mail.body
    )
    assert "Dutch Data Protection Authority" in mail.body
