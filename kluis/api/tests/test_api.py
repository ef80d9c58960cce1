"""Bad input, idempotency, paging, the rate limit, ETags and the token pages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from kluis.api.models import ApiToken
from kluis.api.testing import bearer, service_token, token_for
from kluis.api.tokens import digest
from kluis.audit.models import AuditEntry
from kluis.billing.services import invoice_issue
from kluis.billing.testing import invoice_kwargs
from kluis.shop.testing import make_order
from kluis.sites.models import AllowEntry
from kluis.sites.testing import make_site
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _post(client, url, body, token, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **bearer(token, **extra))


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status and body["type"].endswith(f"#problem-{code}")
    return body


def test_bad_input_is_a_problem_and_changes_nothing(client, personas, settings):
    settings.KLUIS_API_RATE_PER_MINUTE = 1000
    site = make_site(personas.customer_a)
    token = token_for(personas.alice, ["sites:allowlist", "sites:read"])
    url = f"/api/v1/sites/{site.pk}/allowlist"

    _problem(_post(client, url, "{bad json", token), 400, "malformed")
    big = b'{"network": "' + b"1" * (10 * 1024 * 1024) + b'"}'
    _problem(_post(client, url, big, token), 413, "too-large")
    body = _problem(_post(client, url, {"network": 123}, token), 422, "invalid")
    assert body["errors"][0]["field"] == "network"
    unknown = {"network": "145.100.1.2", "extra": 1}
    body = _problem(_post(client, url, unknown, token), 422, "invalid")
    assert body["errors"][0]["code"] == "extra_forbidden"
    assert body["title"] == "Ongeldige invoer"
    english = _post(client, url, unknown, token, HTTP_ACCEPT_LANGUAGE="en")
    assert _problem(english, 422, "invalid")["title"] == "Invalid input"
    body = _problem(_post(client, url, {"network": "0.0.0.0/0"}, token), 422, "refused")
    assert "/24" in body["detail"]  # the service's own reason
    past = {"network": "145.100.1.2", "expires_at": "2020-01-01T00:00:00+01:00"}
    _problem(_post(client, url, past, token), 422, "refused")
    naive = {"network": "145.100.1.2", "expires_at": "2030-01-01T00:00:00"}
    _problem(_post(client, url, naive, token), 422, "invalid")
    assert not AllowEntry.objects.filter(site=site).exists()

    # Idempotency: the same key and body once; another body with that key is refused.
    first = _post(client, url, {"network": "145.100.1.2"}, token, HTTP_IDEMPOTENCY_KEY="k-1")
    again = _post(client, url, {"network": "145.100.1.2"}, token, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert json.loads(first.content) == json.loads(again.content)
    other = _post(client, url, {"network": "145.100.1.3"}, token, HTTP_IDEMPOTENCY_KEY="k-1")
    _problem(other, 422, "idempotency-mismatch")
    bad_key = _post(client, url, {"network": "145.100.1.3"}, token, HTTP_IDEMPOTENCY_KEY="ä" * 3)
    _problem(bad_key, 422, "invalid")
    assert AllowEntry.objects.filter(site=site).count() == 1

    # Every use is audited, with the token and the status, never the address.
    row = ApiToken.objects.get(secret_hash=digest(token))
    used = AuditEntry.objects.filter(action="api.used", payload__contains=str(row.pk))
    assert used.count() == 11  # all but the 413, refused before the token was read
    assert "145.100" not in "".join(used.values_list("payload", flat=True))


def test_pages_of_invoices_the_rate_limit_and_the_firewall_etag(client, personas, settings):
    for _ in range(3):
        invoice_kwargs(personas)
    bobs = invoice_issue(order=make_order(personas.customer_b), issued_by=None)
    token = token_for(personas.alice, ["invoices:read"])
    first = json.loads(client.get("/api/v1/invoices?limit=2", **bearer(token)).content)
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/v1/invoices?limit=2&cursor={first['next_cursor']}", **bearer(token))
    rest = json.loads(second.content)
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    numbers = [i["number"] for i in first["items"] + rest["items"]]
    assert len(set(numbers)) == 3 and numbers == sorted(numbers, reverse=True)
    assert bobs.number not in numbers  # another customer's invoices are never listed
    opened = json.loads(client.get("/api/v1/invoices?status=paid", **bearer(token)).content)
    assert opened["items"] == []
    _problem(client.get("/api/v1/invoices?cursor=nonsense", **bearer(token)), 422, "invalid")
    _problem(client.get("/api/v1/invoices?limit=1000", **bearer(token)), 422, "invalid")

    settings.KLUIS_API_RATE_PER_MINUTE = 2
    node = service_token(personas.staff["admin"])
    fetched = client.get("/api/v1/nodes/firewall", **bearer(node))
    assert fetched.status_code == 200
    same = client.get("/api/v1/nodes/firewall", **bearer(node, HTTP_IF_NONE_MATCH=fetched["ETag"]))
    assert same.status_code == 304 and same.content == b""
    limited = client.get("/api/v1/nodes/firewall", **bearer(node))
    _problem(limited, 429, "rate-limited")
    assert 1 <= int(limited["Retry-After"]) <= 61


def test_tokens_are_made_shown_once_listed_and_revoked(client, personas):
    log_in(client, personas.alice)
    page = reverse("api-tokens")
    assert page in client.get(reverse("accounts:settings")).content.decode()
    with translation.override("nl"):
        form_page = client.get(page, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "niet versleuteld opgeslagen: zet er niets persoonlijks in" in form_page
    answer = client.post(page, {"name": "boekhouding", "scopes": ["invoices:read"], "days": "30"})
    text = answer.context["created"]
    assert text.startswith("kluis_pat_") and text in answer.content.decode()
    row = ApiToken.objects.get(user=personas.alice)
    assert row.secret_hash == digest(text) and text not in json.dumps(row.scopes) + row.prefix
    listed = client.get(page).content.decode()
    assert row.prefix in listed and text not in listed
    refused = client.post(page, {"name": "node", "scopes": ["firewall:read"], "days": "30"})
    assert refused.context["form"].errors and not refused.context["created"]

    log_in(client, personas.bob)
    revoke = reverse("api-token-revoke", kwargs={"token_id": row.pk})
    assert client.post(revoke).status_code == 404
    log_in(client, personas.alice)
    assert client.post(revoke).status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    _problem(client.get("/api/v1/invoices", **bearer(text)), 401, "unauthorized")

    log_in(client, personas.staff["admin"])
    settings_page = client.get(reverse("accounts:settings")).content.decode()
    assert reverse("api-service-tokens") in settings_page
    made = client.post(
        reverse("api-service-tokens"), {"name": "node-7", "scopes": ["firewall:read"], "days": "90"}
    )
    assert made.context["created"].startswith("kluis_svc_")
    assert ApiToken.objects.get(name="node-7").user is None


def test_a_node_delivers_log_batches_once(client, personas):
    from kluis.usage.models import IngestBatch, SiteDay

    site = make_site(personas.customer_a, hosts="shop.example.nl")
    now = timezone.localtime()
    stamp = now.strftime("%d/%b/%Y:%H:%M:%S %z")
    lines = [
        f'145.100.3.{n} - - [{stamp}] "GET /p?q=1 HTTP/1.1" 200 512 "-" "curl/8" "shop.example.nl"'
        for n in range(3)
    ] + ["geen logregel"]
    node = service_token(personas.staff["admin"], ["logs:write"])
    body = {"batch_id": "web1-0001", "kind": "nginx", "lines": lines}
    first = _post(client, "/api/v1/nodes/logs", body, node)
    assert first.status_code == 201, first.content
    assert json.loads(first.content) == {"accepted": 3, "skipped": 1, "replayed": False}
    again = _post(client, "/api/v1/nodes/logs", body, node)
    assert again.status_code == 200 and json.loads(again.content)["replayed"] is True
    other = _post(client, "/api/v1/nodes/logs", {**body, "lines": lines[:1]}, node)
    _problem(other, 409, "conflict")
    assert SiteDay.objects.get(site=site, day=now.date()).requests == 3
    assert IngestBatch.objects.count() == 1
    _problem(_post(client, "/api/v1/nodes/logs", {**body, "kind": "iis"}, node), 422, "invalid")
    reader = service_token(personas.staff["admin"], ["firewall:read"])
    _problem(_post(client, "/api/v1/nodes/logs", body, reader), 403, "forbidden")


def test_an_invoice_with_a_partial_credit_note_is_listed_open_for_what_is_left(client, personas):
    from kluis.billing.services import LineInput, credit_note_issue

    invoice = invoice_issue(order=make_order(personas.customer_a), issued_by=None)
    note = credit_note_issue(
        invoice=invoice, issued_by=None, lines=[LineInput("Korting", -invoice.net_cents // 2)]
    )
    token = token_for(personas.alice, ["invoices:read"])
    listed = json.loads(client.get("/api/v1/invoices?status=open", **bearer(token)).content)
    (item,) = listed["items"]
    assert item["number"] == invoice.number and item["status"] == "open"
    assert item["credited_cents"] == -note.total_cents > 0
    assert item["open_cents"] == invoice.total_cents + note.total_cents
    credited = json.loads(client.get("/api/v1/invoices?status=credited", **bearer(token)).content)
    assert credited["items"] == []
    cancelled = invoice_issue(order=make_order(personas.customer_a), issued_by=None)
    credit_note_issue(invoice=cancelled, issued_by=None)
    credited = json.loads(client.get("/api/v1/invoices?status=credited", **bearer(token)).content)
    assert [i["number"] for i in credited["items"]] == [cancelled.number]
    still_open = json.loads(client.get("/api/v1/invoices?status=open", **bearer(token)).content)
    assert [i["number"] for i in still_open["items"]] == [invoice.number]


def test_a_customer_lists_their_domains_through_the_portals_reveal(client, personas):
    from kluis.domains.testing import registered_domain_kwargs

    registration_id = registered_domain_kwargs(personas)["registration_id"]
    alice = token_for(personas.alice, ["domains:read"])
    (listed,) = json.loads(client.get("/api/v1/domains", **bearer(alice)).content)
    assert listed["id"] == registration_id and listed["domain"] == "alice-portaal.nl"
    assert listed["status"] == "registered" and listed["expires_on"] == "2027-12-05"
    assert listed["nameservers"] == ["ns1.winkeltjes.net", "ns2.winkeltjes.net"]
    one = json.loads(client.get(f"/api/v1/domains/{registration_id}", **bearer(alice)).content)
    assert one == listed
    bob = token_for(personas.bob, ["domains:read"])
    assert json.loads(client.get("/api/v1/domains", **bearer(bob)).content) == []
    _problem(client.get(f"/api/v1/domains/{registration_id}", **bearer(bob)), 404, "not-found")
