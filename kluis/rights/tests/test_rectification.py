"""Rectification: by the customer or by staff, audited; recipients noted (art. 19)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.audit.disclosures import disclosure_record
from kluis.audit.models import AuditEntry
from kluis.policy.enforce import Actor
from kluis.rights.models import FollowUp
from kluis.rights.services import request_from_portal
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_customer_corrects_their_record_and_a_recipient_is_noted(client, personas):
    alice = personas.customer_a
    disclosure_record(
        subject=alice.pk,
        recipient="sidn",
        purpose="domain_registration",
        categories=["user.name", "user.contact.email"],
        actor=Actor.system("test"),
    )
    log_in(client, personas.alice)
    form = client.get(reverse("rights_portal:rectify"))
    assert 'value="Alice de Vries"' in form.content.decode()
    response = client.post(
        reverse("rights_portal:rectify"), {"name": "Alice de Vries-Jansen", "phone": "+31201234567"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.name.open() == "Alice de Vries-Jansen"
    entry = AuditEntry.objects.filter(action="rights.rectified").get()
    assert "Jansen" not in entry.payload and '"name"' in entry.payload
    follow_up = FollowUp.objects.get()
    assert follow_up.recipient == "sidn" and follow_up.categories == ["user.name"]


def test_a_change_to_data_no_recipient_had_needs_no_follow_up(client, personas):
    log_in(client, personas.alice)
    client.post(
        reverse("rights_portal:rectify"), {"name": "Alice de Vries", "address_city": "Utrecht"}
    )
    assert not FollowUp.objects.exists()
    personas.customer_a.refresh_from_db()
    assert personas.customer_a.address_city.open() == "Utrecht"


def test_the_privacy_officer_corrects_on_a_request_and_marks_the_follow_up_done(client, personas):
    alice = personas.customer_a
    disclosure_record(
        subject=alice.pk,
        recipient="sidn",
        purpose="domain_registration",
        categories=["user.contact.phone_number"],
        actor=Actor.system("test"),
    )
    request = request_from_portal(user=personas.alice, kind="rectification")
    log_in(client, personas.staff["privacy_officer"])
    url = reverse("rights_backoffice:rectify", kwargs={"request_id": request.pk})
    assert "Alice" not in client.get(url).content.decode()  # nothing revealed to correct
    client.post(url, {"phone": "+31612345678"})
    alice.refresh_from_db()
    assert alice.phone.open() == "+31612345678" and alice.name.open() == "Alice de Vries"
    follow_up = FollowUp.objects.get()
    client.post(reverse("rights_backoffice:follow-up-done", kwargs={"follow_up_id": follow_up.pk}))
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
