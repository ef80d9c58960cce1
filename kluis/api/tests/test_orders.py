"""Ordering by script: GET /legal names what must be accepted, POST /orders places the
checkout's own order only with exactly those documents accepted by version and hash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kluis.accounts.models import Customer
from kluis.api.models import ApiToken
from kluis.api.testing import bearer, problem_of, token_for
from kluis.api.tokens import digest
from kluis.audit.models import AuditEntry
from kluis.domains import epp_local
from kluis.domains.tests.conftest import taken_elsewhere
from kluis.mail.models import OutboxMessage
from kluis.shop import documents
from kluis.shop.catalogue import catalogue_load
from kluis.shop.models import Acceptance, Order
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")

PRODUCT = "webwinkel-start"


def _post(client, body: Any, token: str, **extra: Any):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        "/api/v1/orders", data, content_type="application/json", **bearer(token, **extra)
    )


def _legal(client, token: str, query: str, **extra: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/legal?{query}", **bearer(token, **extra))
    assert response.status_code == 200, response.content
    return dict(json.loads(response.content))


def _accept(legal: dict[str, Any]) -> dict[str, Any]:
    return {d["kind"]: {"version": d["version"], "sha256": d["sha256"]} for d in legal["documents"]}


def _organisation(personas: Personas) -> Customer:
    customer = personas.customer_a
    customer.kind = Customer.Kind.ORGANISATION
    customer.company_name = "Jansen Webwinkels"
    customer.country = "NL"
    customer.save()
    return customer


def test_legal_names_each_document_with_its_text_and_hash(client, personas: Personas) -> None:
    catalogue_load()
    token = token_for(personas.alice, ["orders:write"])
    # A consumer: the withdrawal information too; with start_now the request to start.
    plain = _legal(client, token, f"product={PRODUCT}")
    assert plain["consumer"] is True and plain["non_eu"] == []
    assert [d["kind"] for d in plain["documents"]] == [
        "agreement",
        "processor_agreement",
        "withdrawal_info",
    ]
    agreement = documents.current("agreement", "nl")
    assert plain["documents"][0]["sha256"] == agreement.sha256
    assert plain["documents"][0]["text"] == agreement.text
    assert plain["documents"][0]["url"].endswith(f"/agreement/{agreement.version}/nl/")
    # A name at a registry outside the EU: the notice and the consent, naming the registry.
    both = _legal(client, token, f"product={PRODUCT}&domain=jansen-winkel.com&start_now=true")
    assert [d["kind"] for d in both["documents"]][2:] == [
        "whois_notice",
        "withdrawal_info",
        "start_request",
    ]
    assert both["non_eu"][0]["domain"] == "jansen-winkel.com"
    assert "VeriSign" in both["non_eu"][0]["registry"]
    assert both["total_cents"] == sum(line["price_cents"] for line in both["lines"])
    # In English after Accept-Language: other texts, other hashes.
    english = _legal(client, token, f"product={PRODUCT}", HTTP_ACCEPT_LANGUAGE="en")
    assert english["language"] == "en"
    assert english["documents"][0]["sha256"] == documents.current("agreement", "en").sha256
    # Bad input: an unknown product, a malformed name; orders:read does not suffice.
    refused = client.get("/api/v1/legal?product=bestaat-niet&domain=-x-.nl", **bearer(token))
    fields = {(e["field"], e.get("item")) for e in problem_of(refused, 422, "invalid")["errors"]}
    assert fields == {("products", "bestaat-niet"), ("domains", "-x-.nl")}
    reader = token_for(personas.alice, ["orders:read"])
    problem_of(client.get("/api/v1/legal", **bearer(reader)), 403, "forbidden")


def test_an_order_needs_exactly_the_current_documents(client, personas: Personas) -> None:
    catalogue_load()
    token = token_for(personas.alice, ["orders:write"])
    legal = _legal(client, token, f"product={PRODUCT}")
    accept = _accept(legal)

    # Nothing accepted, a stale version, a wrong hash, one too many, one too few: a 409
    # naming what must be accepted, and nothing is ordered or mailed.
    wrong_hash = {**accept, "agreement": {**accept["agreement"], "sha256": "0" * 64}}
    stale = {**accept, "agreement": {**accept["agreement"], "version": "1.0"}}
    too_many = {**accept, "start_request": accept["agreement"]}
    too_few = {k: v for k, v in accept.items() if k != "withdrawal_info"}
    for given in (None, {}, wrong_hash, stale, too_many, too_few):
        body = {"products": [PRODUCT]} | ({"accept": given} if given is not None else {})
        problem = problem_of(_post(client, body, token), 409, "conflict")
        assert [d["kind"] for d in problem["documents"]] == [d["kind"] for d in legal["documents"]]
        assert "agreement" in problem["detail"]
    # In English, the refusal in English, and the English texts to accept.
    english = problem_of(
        _post(client, {"products": [PRODUCT], "accept": accept}, token, HTTP_ACCEPT_LANGUAGE="en"),
        409,
        "conflict",
    )
    assert english["detail"].startswith("Accept exactly these documents")
    assert english["documents"][0]["sha256"] == documents.current("agreement", "en").sha256
    # A hash of another shape is invalid input.
    bad = {"products": [PRODUCT], "accept": {"agreement": {"version": "2", "sha256": "x"}}}
    problem_of(_post(client, bad, token), 422, "invalid")
    assert not Order.objects.filter(customer=personas.customer_a).exists()
    assert not OutboxMessage.objects.exists()


def test_an_order_records_the_acceptances_as_the_checkout_and_mails_once(
    client, personas: Personas
) -> None:
    catalogue_load()
    token = token_for(personas.alice, ["orders:write"])
    row = ApiToken.objects.get(secret_hash=digest(token))
    legal = _legal(client, token, f"product={PRODUCT}&start_now=true")
    body = {"products": [PRODUCT], "start_now": True, "accept": _accept(legal)}
    key = {"HTTP_IDEMPOTENCY_KEY": "bestelling-1", "REMOTE_ADDR": "145.100.10.7"}

    created = _post(client, body, token, **key)
    assert created.status_code == 201, created.content
    answer = json.loads(created.content)
    order = Order.objects.get(pk=answer["id"], customer=personas.customer_a)
    assert order.consumer and order.start_now_requested and order.status == "received"
    assert answer["number"] == order.number and answer["lines"][0]["kind"] == "product"

    accepted = {a.document: a for a in Acceptance.objects.filter(order=order)}
    assert set(accepted) == {d["kind"] for d in legal["documents"]}
    for doc in legal["documents"]:
        made = accepted[doc["kind"]]
        assert (made.version, made.text_sha256, made.language) == (
            doc["version"],
            doc["sha256"],
            "nl",
        )
        assert made.channel == f"api:{row.pk}"
    # The checkout's PDF hashes for the order documents, and the request's address.
    assert accepted["agreement"].pdf_sha256 and not accepted["start_request"].pdf_sha256
    sealed = Acceptance.objects.filter(pk=accepted["agreement"].pk).values_list("ip_address")
    assert b"145.100.10.7" not in bytes(sealed[0][0])  # sealed, as the checkout's
    assert accepted["agreement"].ip_address.open() == "145.100.10.7"
    placed = AuditEntry.objects.get(action="shop.order_placed", subject=order.customer_id)
    assert json.loads(placed.payload)["data"]["channel"] == f"api:{row.pk}"
    assert OutboxMessage.objects.count() == 1  # the confirmation, with its documents

    # The same key and body: the same order (200), nothing twice.
    again = _post(client, body, token, **key)
    assert again.status_code == 200 and json.loads(again.content)["id"] == answer["id"]
    # The same key with another body: refused, nothing made.
    problem_of(
        _post(client, {**body, "notes": "anders"}, token, **key), 422, "idempotency-mismatch"
    )
    assert Order.objects.filter(customer=personas.customer_a).count() == 1
    assert OutboxMessage.objects.count() == 1


def test_what_the_account_lacks_or_does_not_take_is_said(client, personas: Personas) -> None:
    catalogue_load()
    token = token_for(personas.alice, ["orders:write"])
    # A consumer has no VAT number to give here (an EU business outside NL would).
    consumer = _accept(_legal(client, token, f"product={PRODUCT}"))
    body = {"products": [PRODUCT], "vat_number": "DE123456789", "accept": consumer}
    problem = problem_of(_post(client, body, token), 422, "invalid")
    assert problem["errors"][0]["field"] == "vat_number"

    # A Dutch business registering its first name: KvK number and extract are asked;
    # start_now is a consumer's, refused rather than ignored.
    _organisation(personas)
    business = _legal(client, token, "domain=jansen-winkel.nl")
    assert business["consumer"] is False
    body = {"domains": ["jansen-winkel.nl"], "accept": _accept(business)}
    fields = {e["field"] for e in problem_of(_post(client, body, token), 422, "invalid")["errors"]}
    assert fields == {"kvk_number", "kvk_extract", "legal_form"}
    problem = problem_of(_post(client, {**body, "start_now": True}, token), 422, "invalid")
    assert problem["errors"][0]["field"] == "start_now"
    problem = problem_of(
        _post(client, {**body, "kvk_number": "12345678", "kvk_extract_base64": "@@"}, token),
        422,
        "invalid",
    )
    assert problem["errors"][0]["field"] == "kvk_extract_base64"
    assert not Order.objects.filter(customer=personas.customer_a).exists()
    problem = problem_of(
        _post(client, {**body, "kvk_number": "12345678", "legal_form": "bvba"}, token),
        422,
        "invalid",
    )
    assert "legal_form" in {e["field"] for e in problem["errors"]}
    assert not Order.objects.filter(customer=personas.customer_a).exists()


def test_a_name_the_registry_refuses_orders_nothing(
    client, personas: Personas, registries_local: epp_local.Running
) -> None:
    catalogue_load()
    taken_elsewhere(registries_local, "bezet-al.com")
    token = token_for(personas.alice, ["orders:write"])
    legal = _legal(client, token, "domain=bezet-al.com&domain=vrij-nog.com")
    body = {"domains": ["bezet-al.com", "vrij-nog.com"], "accept": _accept(legal)}
    problem = problem_of(_post(client, body, token), 422, "invalid")
    assert [(e["field"], e["item"]) for e in problem["errors"]] == [("domains", "bezet-al.com")]
    assert not Order.objects.filter(customer=personas.customer_a).exists()

    # The free name alone: ordered, with the consent to the registry outside the EU.
    legal = _legal(client, token, "domain=vrij-nog.com")
    body = {"domains": ["vrij-nog.com"], "accept": _accept(legal)}
    created = _post(client, body, token)
    assert created.status_code == 201, created.content
    order = Order.objects.get(customer=personas.customer_a)
    assert order.non_eu_consent and order.whois_notice_version
    assert json.loads(created.content)["lines"] == [
        {"kind": "domain", "description": "vrij-nog.com"}
    ]
    # The list of orders names it too (the line itself holds only a mark).
    reader = token_for(personas.alice, ["orders:read"])
    listed = json.loads(client.get("/api/v1/orders", **bearer(reader)).content)
    assert listed[0]["lines"] == [{"kind": "domain", "description": "vrij-nog.com"}]
