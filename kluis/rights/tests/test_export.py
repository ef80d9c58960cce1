"""The access export (R36, R42): complete by construction, JSON and readable PDF."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.audit.disclosures import disclosure_record
from kluis.audit.models import RevealRecord
from kluis.policy.cases import Case
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.rights.export import build_export, export_json
from kluis.rights.pdf import export_pdf
from kluis.rights.services import request_from_portal
from kluis.shop.testing import make_order
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _export(personas, language="nl"):
    return build_export(
        subject=personas.customer_a.pk,
        actor=Actor.subject(personas.customer_a.pk),
        language=language,
    )


def test_every_category_carries_values_purposes_recipients_retention_and_source(personas):
    alice = personas.customer_a
    alice.contract_ended_at = timezone.make_aware(dt.datetime(2026, 3, 1, 12))
    alice.save(update_fields=["contract_ended_at"])
    disclosure_record(
        subject=alice.pk,
        recipient="sidn",
        purpose="domain_registration",
        categories=["user.name", "user.contact.email"],
        actor=Actor.system("test"),
    )
    officer = personas.staff["support"]
    order = make_order(alice)
    alice.email.reveal(
        purpose="contract_administration",
        actor=officer.actor(),
        case=Case("order", str(order.pk)),
    )
    export = _export(personas)
    labels = {k: c.label.get("nl") for k, c in current_policy().categories.items()}
    by_label = {c["label"]: c for c in export["categories"]}
    assert set(by_label) >= {
        labels["user.name"],
        labels["user.contact.email"],
        labels["user.contact.phone_number"],
        labels["kluis.vat_number"],
    }
    email = by_label[labels["user.contact.email"]]
    assert {v["value"] for v in email["values"]} == {"alice@example.nl"}
    assert any(p["legal_basis"] == "uitvoering van de overeenkomst" for p in email["purposes"])
    registrar = email["recipients"][0]
    assert registrar["purpose"] == "registratie van je domeinnaam"
    assert registrar["legal_basis"] == "uitvoering van de overeenkomst"
    assert email["retention"][0]["until"] == "2027-03-01"
    assert email["source"]
    assert labels["user.contact.phone_number"] not in {
        c for r in export["recipients"] for c in r["categories"]
    }
    assert RevealRecord.objects.filter(subject=alice.pk).exists()
    assert export["staff_reveals"][0]["purpose"] == "onze klantadministratie"
    assert export["staff_reveals"][0]["case"] == f"bestelling {order.number}"
    assert export["complaint"]["authority"] == "Autoriteit Persoonsgegevens"
    assert {r["article"] for r in export["rights"]} >= {"art. 15 AVG", "art. 17 AVG"}
    assert any(a["event"] == "gegevens gegeven aan een ontvanger" for a in export["activity"])


def test_a_sealed_field_added_later_is_in_the_export_without_other_code(personas, later_model):
    later_model(
        customer_id=personas.customer_a.pk,
        year=2024,
        kvk_number="87654321",
        billed_name="Alice B.V.",
    ).save()
    export = _export(personas)
    labels = {k: c.label.get("nl") for k, c in current_policy().categories.items()}
    values = {
        (c["label"], v["field"], v["value"]) for c in export["categories"] for v in c["values"]
    }
    assert (labels["kluis.kvk_number"], "KvK-nummer op de offerte", "87654321") in values
    assert (labels["user.name"], "naam op de factuur", "Alice B.V.") in values
    name = next(c for c in export["categories"] if c["label"] == labels["user.name"])
    fiscal = [r for r in name["retention"] if r["period"] == "2024"]
    assert fiscal[0]["until"] == "2031-12-31" and fiscal[0]["legal_duty"]


def test_the_pdf_is_readable_in_dutch_and_english_and_escapes_what_was_typed(personas):
    alice = personas.customer_a
    alice.name = "<b>Alice</b> {{ x }} & Zn"
    alice.save()
    for language in ("nl", "en"):
        pdf = export_pdf(_export(personas, language))
        assert pdf.startswith(b"%PDF-") and len(pdf) > 2000
    data = json.loads(export_json(_export(personas)))
    assert "<b>Alice</b> {{ x }} & Zn" in {
        v["value"] for c in data["categories"] for v in c["values"]
    }


def test_a_customer_downloads_json_and_pdf_and_cannot_reach_anothers(client, personas):
    request = request_from_portal(user=personas.alice, kind="access")
    log_in(client, personas.alice)
    for fmt, kind in (("json", "application/json"), ("pdf", "application/pdf")):
        url = reverse("rights_portal:export", kwargs={"request_id": request.pk, "fmt": fmt})
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == kind
    assert (
        client.get(
            reverse("rights_portal:export", kwargs={"request_id": request.pk, "fmt": "exe"})
        ).status_code
        == 404
    )
    log_in(client, personas.bob)
    assert client.get(url).status_code == 404
    detail = reverse("rights_portal:request", kwargs={"request_id": request.pk})
    assert client.get(detail).status_code == 404
