"""Help requests and the payments list through the API, as on the portal's pages."""

from __future__ import annotations

import json

import pytest

from kluis.api.testing import bearer, problem_of, token_for
from kluis.audit.models import AuditEntry
from kluis.policy.enforce import Actor
from kluis.sites.models import HelpRequest, SupportGrant
from kluis.sites.testing import make_site
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")


def _post(client, url, body, token, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **bearer(token, **extra))


def test_a_help_request_is_asked_and_listed_through_the_sites_service(
    client, personas: Personas
) -> None:
    site = make_site(personas.customer_a)
    bobs = make_site(personas.customer_b)
    token = token_for(personas.alice, ["help:requests"])
    url = "/api/v1/help-requests"

    # Bad input: nothing is made.
    problem_of(_post(client, url, {"about": "site", "message": "Traag"}, token), 422, "invalid")
    other = {"about": "site", "site": bobs.pk, "message": "Traag"}
    assert problem_of(_post(client, url, other, token), 422, "invalid")["errors"][0]["field"] == (
        "site"
    )
    problem_of(_post(client, url, {"about": "weer", "message": "x"}, token), 422, "invalid")
    problem_of(_post(client, url, {"about": "account", "message": 5}, token), 422, "invalid")
    extra = {"about": "account", "message": "x", "urgent": True}
    problem_of(_post(client, url, extra, token), 422, "invalid")
    problem_of(
        _post(
            client,
            url,
            {"about": "account", "message": "x"},
            token_for(personas.alice, ["sites:read"]),
        ),
        403,
        "forbidden",
    )
    assert not HelpRequest.objects.exists()

    body = {"about": "site", "site": site.pk, "message": "Mijn winkel is traag."}
    made = _post(client, url, body, token, HTTP_IDEMPOTENCY_KEY="vraag-1")
    assert made.status_code == 201, made.content
    answer = json.loads(made.content)
    assert answer["site"] == site.pk and answer["status"] == "open"
    assert _post(client, url, body, token, HTTP_IDEMPOTENCY_KEY="vraag-1").status_code == 200
    (stored,) = HelpRequest.objects.all()
    me = Actor.subject(personas.customer_a.pk)
    assert stored.message.reveal(purpose="answer_questions", actor=me) == "Mijn winkel is traag."
    assert AuditEntry.objects.filter(action="sites.help_request_opened").count() == 1

    listed = json.loads(client.get(url, **bearer(token)).content)
    assert [h["reference"] for h in listed] == [stored.reference]
    assert "traag" not in json.dumps(listed)  # the question stays out of the list
    bob = token_for(personas.bob, ["help:requests"])
    assert json.loads(client.get(url, **bearer(bob)).content) == []

    # One request, with its question opened for Alice; her reply; Bob finds none of it.
    one = f"{url}/{stored.pk}"
    shown = json.loads(client.get(one, **bearer(token)).content)
    assert shown["message"] == "Mijn winkel is traag." and shown["thread"] == []
    problem_of(client.get(one, **bearer(bob)), 404, "not-found")
    problem_of(_post(client, f"{one}/reply", {"body": "x"}, bob), 404, "not-found")
    problem_of(_post(client, f"{one}/reply", {"body": ""}, token), 422, "invalid")
    problem_of(_post(client, f"{one}/reply", {"body": "x", "cc": "y"}, token), 422, "invalid")
    replied = _post(client, f"{one}/reply", {"body": "Nog steeds traag."}, token)
    assert replied.status_code == 201, replied.content
    thread = json.loads(replied.content)["thread"]
    assert thread == [{**thread[0], "number": 1, "author": "customer", "body": "Nog steeds traag."}]
    from kluis.sites.services import help_request_close

    help_request_close(request=stored, by=personas.alice)
    closed = problem_of(_post(client, f"{one}/reply", {"body": "Hallo?"}, token), 422, "refused")
    assert closed["detail"] == "Deze hulpvraag is gesloten."


def test_a_help_request_is_closed_through_the_sites_service(client, personas: Personas) -> None:
    from kluis.sites.testing import make_grant

    grant = make_grant(make_site(personas.customer_a), personas.staff["support"])
    found = grant.help_request
    token = token_for(personas.alice, ["help:requests"])
    url = f"/api/v1/help-requests/{found.pk}/close"

    # Refused, and nothing changes: an unknown field, the wrong scope, Bob's token.
    body = problem_of(_post(client, url, {"reason": "klaar"}, token), 422, "invalid")
    assert body["errors"][0]["code"] == "extra_forbidden"
    problem_of(_post(client, url, {}, token_for(personas.alice, ["sites:read"])), 403, "forbidden")
    problem_of(_post(client, url, {}, token_for(personas.bob, ["help:requests"])), 404, "not-found")
    missing = "/api/v1/help-requests/00000000-0000-4000-8000-000000000000/close"
    problem_of(_post(client, missing, {}, token), 404, "not-found")
    found.refresh_from_db()
    grant.refresh_from_db()
    assert found.status == HelpRequest.Status.OPEN and grant.ended_at is None
    assert not AuditEntry.objects.filter(action="sites.help_request_closed").exists()

    problem_of(client.post(url, **bearer(token)), 400, "malformed")  # the body is {}
    closed = _post(client, url, {}, token)
    assert closed.status_code == 200, closed.content
    answer = json.loads(closed.content)
    assert answer["status"] == "closed" and answer["closed_at"]
    now_closed = HelpRequest.objects.get(pk=found.pk)
    assert now_closed.status == HelpRequest.Status.CLOSED
    ended = SupportGrant.objects.get(pk=grant.pk)
    assert ended.ended_at is not None and ended.ended_by == "customer"
    (entry,) = AuditEntry.objects.filter(action="sites.help_request_closed")
    assert entry.actor == personas.alice.actor().ref

    # Closed twice: the service's refusal, and no second record.
    again = problem_of(_post(client, url, {}, token), 422, "refused")
    assert again["detail"] == "Deze hulpvraag is al gesloten."
    english = _post(client, url, {}, token, HTTP_ACCEPT_LANGUAGE="en")
    assert problem_of(english, 422, "refused")["detail"] == "This help request is already closed."
    assert AuditEntry.objects.filter(action="sites.help_request_closed").count() == 1


def _paid(invoice, reference: str):
    from kluis.billing.models import BankStatement, Payment

    statement = BankStatement.objects.create(
        version="02", message_id=reference, statement_id=reference, sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=reference,
        booking_date=invoice.issue_date,
        amount_cents=500,
        match=Payment.Match.REFERENCE,
        invoice=invoice,
        holder="Betaler",
        subject=invoice.customer_id,
    )
    payment.save(force_insert=True)
    return payment


def test_the_payments_list_holds_only_the_customers_own(client, personas: Personas) -> None:
    from kluis.billing.models import Invoice
    from kluis.billing.services import invoice_issue
    from kluis.billing.testing import invoice_kwargs
    from kluis.shop.testing import make_order

    alices = Invoice.objects.get(pk=invoice_kwargs(personas)["invoice_id"])
    bobs = invoice_issue(order=make_order(personas.customer_b), issued_by=None)
    _paid(alices, "A-1")
    _paid(bobs, "B-1")
    token = token_for(personas.alice, ["invoices:read"])
    rows = json.loads(client.get("/api/v1/payments", **bearer(token)).content)
    assert rows == [
        {
            "date": alices.issue_date.isoformat(),
            "amount_cents": 500,
            "kind": "payment",
            "status": "received",
            "invoice": alices.number,
        }
    ]
    assert "Betaler" not in json.dumps(rows)
    orders_only = token_for(personas.alice, ["orders:read"])
    problem_of(client.get("/api/v1/payments", **bearer(orders_only)), 403, "forbidden")


def test_the_copy_holds_the_customers_tokens_with_their_last_use(client, personas) -> None:
    from django.utils.translation import override

    from kluis.api.models import ApiToken
    from kluis.api.tokens import personal_token_create
    from kluis.formats import long_datetime

    row, text = personal_token_create(
        user=personas.alice, name="boekhouding", scopes=["account:read"], days=30
    )
    copy = client.get("/api/v1/my-data", **bearer(text)).content.decode()
    row.refresh_from_db()
    assert row.last_used_at is not None
    dumped = json.loads(copy)
    found = json.dumps(dumped, ensure_ascii=False)
    assert "boekhouding" in found and "API-token" in found
    assert "al je gegevens lezen, zoals op Mijn gegevens" in found
    assert text not in found and row.secret_hash not in found
    with override("nl"):
        assert long_datetime(row.expires_at) in found
    # Bob's copy holds none of Alice's tokens.
    bobs = token_for(personas.bob, ["account:read"])
    assert "boekhouding" not in client.get("/api/v1/my-data", **bearer(bobs)).content.decode()
    assert ApiToken.objects.filter(user=personas.alice).count() == 1
