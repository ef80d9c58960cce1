"""Staff through the API: the orders desk's moves, and a reveal with purpose and case,
exactly as the back office's pages: the same form, service and vault, the same refusals."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from kluis.api.testing import bearer, problem_of, token_for
from kluis.audit.models import AuditEntry, RevealRecord
from kluis.shop.models import Order
from kluis.shop.testing import make_order
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")


def _post(client, url, body, token, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **bearer(token, **extra))


def test_a_reveal_needs_a_purpose_and_for_staff_a_case(client, personas: Personas) -> None:
    alice = personas.customer_a
    order = make_order(alice)
    token = token_for(personas.staff["support"], ["customers:reveal"])
    url = f"/api/v1/staff/customers/{alice.pk}/reveal"
    records = RevealRecord.objects.filter(subject=alice.pk).count()

    # No purpose: refused before the vault; nothing is opened.
    body = problem_of(_post(client, url, {"field": "email"}, token), 422, "invalid")
    assert body["errors"][0]["field"] == "purpose" and body["errors"][0]["code"] == "missing"
    # A purpose that does not use the field, an unknown field, wrong types, extra fields.
    wrong = {"field": "email", "purpose": "admin_access"}
    assert problem_of(_post(client, url, wrong, token), 422, "invalid")["errors"][0]["field"] == (
        "purpose"
    )
    problem_of(_post(client, url, {"field": "wachtwoord", "purpose": "x"}, token), 422, "invalid")
    problem_of(_post(client, url, {"field": 1, "purpose": ["a"]}, token), 422, "invalid")
    extra = {"field": "email", "purpose": "contract_administration", "reason": "even kijken"}
    assert problem_of(_post(client, url, extra, token), 422, "invalid")["errors"][0]["code"] == (
        "extra_forbidden"
    )
    problem_of(
        _post(client, url, {"field": "email", "purpose": "x", "case": "geen"}, token),
        422,
        "invalid",
    )
    assert RevealRecord.objects.filter(subject=alice.pk).count() == records

    # A case-bound purpose without a case: the vault refuses, and the refusal is on record.
    bare = {"field": "email", "purpose": "contract_administration"}
    refused = problem_of(_post(client, url, bare, token), 403, "forbidden")
    assert refused["detail"].startswith("Niet toegestaan:")
    last = json.loads(AuditEntry.objects.filter(action="vault.reveal_refused").get().payload)
    assert last["subject"] == str(alice.pk)
    assert last["actor"] == personas.staff["support"].actor().ref
    assert RevealRecord.objects.filter(subject=alice.pk).count() == records
    # Another customer's case does not open Alice's value either.
    bobs = make_order(personas.customer_b)
    other = {**bare, "case": f"order:{bobs.pk}"}
    problem_of(_post(client, url, other, token), 403, "forbidden")

    # With Alice's open order as the case: the value, recorded with its case.
    done = _post(client, url, {**bare, "case": f"order:{order.pk}"}, token)
    assert done.status_code == 200, done.content
    answer = json.loads(done.content)
    assert answer == {
        "field": "email",
        "value": "alice@example.nl",
        "purpose": "contract_administration",
        "case": f"order:{order.pk}",
    }
    assert RevealRecord.objects.filter(subject=alice.pk).count() == records + 1

    # The scope without a role that may look (admin), and a customer's token: 403.
    admin = token_for(personas.staff["admin"], ["customers:reveal"])
    problem_of(_post(client, url, {**bare, "case": f"order:{order.pk}"}, admin), 403, "forbidden")
    problem_of(_post(client, url, bare, token_for(personas.alice)), 403, "forbidden")


def test_the_orders_desk_moves_an_order_as_the_page_does(client, personas: Personas) -> None:
    order = make_order(personas.customer_a)
    token = token_for(personas.staff["orders"], ["orders:desk"])
    url = f"/api/v1/staff/orders/{order.pk}/move"

    shown = client.get(f"/api/v1/staff/orders/{order.pk}", **bearer(token))
    assert json.loads(shown.content)["next_statuses"] == ["awaiting_payment", "cancelled"]
    newer = make_order(personas.customer_b)
    listed = json.loads(client.get("/api/v1/staff/orders?limit=1", **bearer(token)).content)
    assert [o["number"] for o in listed["items"]] == [newer.number] and listed["next_cursor"]
    rest = client.get(
        f"/api/v1/staff/orders?limit=5&cursor={listed['next_cursor']}", **bearer(token)
    )
    assert order.number in [o["number"] for o in json.loads(rest.content)["items"]]
    received = client.get("/api/v1/staff/orders?status=paid", **bearer(token))
    assert json.loads(received.content)["items"] == []
    problem_of(client.get("/api/v1/staff/orders?status=weg", **bearer(token)), 422, "invalid")

    # Bad input and an illegal move: nothing moves, nothing is mailed.
    mail.outbox.clear()
    problem_of(_post(client, url, {"status": 3}, token), 422, "invalid")
    problem_of(_post(client, url, {"status": "paid", "why": "x"}, token), 422, "invalid")
    problem_of(_post(client, url, {"status": "verzonnen"}, token), 422, "invalid")
    illegal = problem_of(_post(client, url, {"status": "delivered"}, token), 422, "refused")
    assert illegal["detail"] == "Deze statuswijziging is niet toegestaan."
    order.refresh_from_db()
    assert order.status == Order.Status.RECEIVED

    # A finance token (the scope, not the role) may not move it.
    finance = token_for(personas.staff["finance"], ["orders:desk"])
    problem_of(_post(client, url, {"status": "awaiting_payment"}, finance), 403, "forbidden")

    moved = _post(client, url, {"status": "awaiting_payment"}, token, HTTP_IDEMPOTENCY_KEY="m-1")
    assert moved.status_code == 200, moved.content
    assert json.loads(moved.content)["status"] == "awaiting_payment"
    again = _post(client, url, {"status": "awaiting_payment"}, token, HTTP_IDEMPOTENCY_KEY="m-1")
    assert again.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    moved_entries = AuditEntry.objects.filter(action="shop.order_moved")
    assert moved_entries.count() == 1  # the replay did not move twice
    assert json.loads(moved_entries.get().payload)["actor"] == personas.staff["orders"].actor().ref
