"""The issue's "done when", end to end through the portal.

A customer asks for their data, downloads the JSON and the PDF, then asks for
erasure and is told what was kept and why. Afterwards every sealed value of that
customer is tried: only fiscal-class values still open.
"""

from __future__ import annotations

import json

import pytest
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_verify
from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.policy.loader import current_policy
from kluis.rights.models import RightsRequest
from kluis.testing import log_in, make_personas
from kluis.vault.errors import KeyShredded
from kluis.vault.holdings import sealed_holdings

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_a_customer_gets_their_data_then_is_erased_except_the_fiscal_records(client, later_model):
    personas = make_personas()
    alice = personas.customer_a
    later_model(
        customer_id=alice.pk, year=2025, kvk_number="12345678", billed_name="Alice de Vries"
    ).save()
    log_in(client, personas.alice)

    response = client.post(reverse("rights_portal:requests"), {"kind": "access"})
    request = RightsRequest.objects.get(subject=alice.pk, kind="access")
    assert response.status_code == 302 and request.status == "done"
    exported = client.get(
        reverse("rights_portal:export", kwargs={"request_id": request.pk, "fmt": "json"})
    )
    data = json.loads(
        b"".join(exported.streaming_content) if exported.streaming else exported.content
    )
    values = {v["value"] for c in data["categories"] for v in c["values"]}
    assert {"Alice de Vries", "alice@example.nl", "12345678"} <= values
    pdf = client.get(
        reverse("rights_portal:export", kwargs={"request_id": request.pk, "fmt": "pdf"})
    )
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")

    preview = client.get(reverse("rights_portal:erase"))
    assert "bewaard tot 31 december 2032" in preview.content.decode()
    answer = client.post(reverse("rights_portal:erase"), {"confirm": "yes"})
    page = answer.content.decode()
    fiscal_basis = current_policy().retention["fiscal"].basis.nl
    assert "bewaard tot 31 december 2032 vanwege" in page
    assert fiscal_basis.split(":")[0] in page
    assert "gewist" in page and "Je account is verwijderd." in page
    assert not User.objects.filter(customer_id=alice.pk).exists()

    # The answer went out by mail, and the outbox then forgets the address.
    report = deliver_due(worker="test", connection=EmailBackend())
    assert report.sent >= 1
    assert not OutboxMessage.objects.filter(recipient__isnull=False, status="sent").exists()

    readable = []
    requests = list(RightsRequest.objects.filter(subject=alice.pk).values_list("pk", flat=True))
    for subject in [alice.pk, *requests]:
        for holding in sealed_holdings(subject):
            try:
                holding.value.open()
            except KeyShredded:
                continue
            readable.append(holding.field.retention_class())
    assert readable == ["fiscal"]
    tombstone = Customer.objects.get(pk=alice.pk)
    assert tombstone.email_index is None and tombstone.name_index is None
    assert audit_verify().ok

    # Bob is untouched.
    assert personas.customer_b.name.open() == "Bob Jansen"
