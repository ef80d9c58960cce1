"""Kept means kept for that purpose only; a restriction and an objection take effect.

After an erasure, data kept for a legal duty opens only for the purposes its retention
class names (`kept_for`); during a restriction only for purposes marked
`during_restriction` (and kept data only for its duty); after an upheld objection not
for the purposes it names. Every purpose is tried against every kept category.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.policy.cases import Case, case_needed
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.rights import limits, services
from kluis.rights.testing import alice_request
from kluis.testing import log_in
from kluis.vault.errors import RevealRefused
from kluis.vault.reveal import reveal_many

pytestmark = pytest.mark.django_db(databases="__all__")


def _actor_for(purpose: str) -> Actor:
    declared = current_policy().purposes[purpose]
    if "system" in declared.actors:
        return Actor.system("test")
    roles = [a for a in declared.actors if a != "subject"]
    return Actor.staff("tester", {roles[0]})


def _case_for(purpose: str, subject) -> Case | None:
    """An open case of the person for a purpose that needs one (kluis.policy.cases)."""
    from kluis.accounts.models import Customer
    from kluis.rights.models import PoliceRequest
    from kluis.shop.models import Order

    kinds = case_needed(purpose, _actor_for(purpose))
    if "order" in kinds:
        order = Order(
            number=f"L{uuid.uuid4().hex[:9]}",
            customer=Customer.objects.get(pk=subject),
            idempotency_key=uuid.uuid4().hex,
            total_cents=100,
            agreement_version="1",
            processor_agreement_version="1",
        )
        order.save(force_insert=True)  # no sealed values: it works after an erasure too
        return Case("order", str(order.pk))
    if "police_request" in kinds:
        police = PoliceRequest.objects.create(
            authority="Politie",
            legal_basis="art. 126nd Sv",
            order_reference="PV-L",
            subject=subject,
            categories=["user.name"],
            approved_categories=["user.name"],
            status=PoliceRequest.Status.APPROVED,
            registered_by="user:other",
        )
        return Case("police_request", str(police.pk))
    assert not kinds, kinds
    return None


def _opens(row, field: str, purpose: str) -> bool:
    from kluis.shop.models import Order

    case = _case_for(purpose, row.vault_subject())
    try:
        reveal_many([row], [field], purpose=purpose, actor=_actor_for(purpose), case=case)
    except RevealRefused:
        return False
    finally:
        # A running order would hold back the erasure these tests make afterwards.
        if case is not None and case.kind == "order":
            Order.objects.filter(pk=case.id).update(status=Order.Status.CANCELLED)
    return True


def _matrix(row, field: str, category: str) -> dict[str, bool]:
    policy = current_policy()
    return {
        key: _opens(row, field, key)
        for key, p in policy.purposes.items()
        if category in p.categories and [a for a in p.actors if a != "subject"]
    }


def test_kept_fiscal_data_opens_only_for_its_duty_after_erasure(personas, later_model):
    alice = personas.customer_a
    invoice = later_model(customer_id=alice.pk, year=2024, kvk_number="1", billed_name="Alice")
    invoice.save()
    before = _matrix(invoice, "billed_name", "user.name")
    assert before["order_status"] and before["contract_administration"]
    services.erasure_request_from_portal(user=personas.alice)
    kept_for = set(current_policy().retention["fiscal"].kept_for)
    after = _matrix(later_model.objects.get(pk=invoice.pk), "billed_name", "user.name")
    assert {k for k, opened in after.items() if opened} == kept_for & set(after)
    assert not after["order_status"] and not after["answer_questions"]
    assert not after["domain_registration"] and not after["collections"]
    assert AuditEntry.objects.filter(action="vault.reveal_refused", subject=alice.pk).exists()


def test_a_restriction_leaves_only_storage_claims_and_duties(client, personas, later_model):
    alice = personas.customer_a
    invoice = later_model(customer_id=alice.pk, year=2024, kvk_number="1", billed_name="Alice")
    invoice.save()
    request = alice_request(personas, "restriction")
    services.request_respond(request=request, by=personas.staff["privacy_officer"])
    policy = current_policy()
    record = _matrix(alice, "name", "user.name")
    assert {k for k, ok in record.items() if ok} == {
        k for k in record if policy.purposes[k].during_restriction
    }
    assert not record["order_status"] and record["legal_requests"]
    kept = _matrix(invoice, "billed_name", "user.name")
    assert {k for k, ok in kept.items() if ok} == {
        k
        for k in kept
        if policy.purposes[k].during_restriction and k in policy.retention["fiscal"].kept_for
    }
    # The person still reads their own data, and sees the restriction on "Mijn gegevens".
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert "Beperking en bezwaar" in page and "verwerking van je gegevens beperkt" in page
    assert "Alice" in page
    # Ended (after telling the person): everything opens again.
    limits.limit_end(limit=limits.holding(alice.pk)[0], by="user:officer")
    assert all(_matrix(alice, "name", "user.name").values())


def test_an_upheld_objection_ends_the_purposes_it_names(client, personas):
    alice = personas.customer_a
    request = alice_request(personas, "objection")
    services.request_respond(
        request=request,
        by=personas.staff["privacy_officer"],
        purposes=["answer_questions"],
    )
    record = _matrix(alice, "name", "user.name")
    assert not record["answer_questions"]
    assert all(ok for k, ok in record.items() if k != "answer_questions")
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    label = current_policy().purposes["answer_questions"].label.get("nl")
    assert "na je bezwaar niet meer voor" in page and label in page
    with pytest.raises(services.RightsError):
        services.request_respond(
            request=alice_request(personas, "objection"),
            by=personas.staff["privacy_officer"],
            purposes=["invoicing"],  # a legal duty: art. 21 does not reach it
        )


def test_the_officer_chooses_the_restrictions_last_day_no_sooner_than_the_notice(client, personas):
    import datetime as dt

    from django.utils import timezone

    request = alice_request(personas, "restriction")
    services.request_respond(request=request, by=personas.staff["privacy_officer"])
    (limit,) = limits.holding(personas.customer_a.pk)
    log_in(client, personas.staff["privacy_officer"])
    page = client.get(reverse("rights_backoffice:request", args=[request.pk])).content.decode()
    assert 'type="date"' in page and 'name="ends_on"' in page
    url = reverse("rights_backoffice:limit-end", kwargs={"limit_id": limit.pk})
    too_soon = timezone.localdate() + dt.timedelta(days=limits.restriction_notice_days() - 1)
    answer = client.post(url, {"ends_on": too_soon.isoformat()}, follow=True)
    assert "de persoon hoort het eerst" in answer.content.decode()
    limit.refresh_from_db()
    assert limit.ends_on is None
    chosen = timezone.localdate() + dt.timedelta(days=40)
    client.post(url, {"ends_on": chosen.isoformat()})
    limit.refresh_from_db()
    assert limit.ends_on == chosen and limit.ended_at is None
