"""A hosting node's token is bound to its node: the firewall fetch answers with that
node's sites only, with an ETag of that node's own; its log batches count its own
sites' lines only."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from kluis.api.models import ApiToken
from kluis.api.testing import bearer, service_token
from kluis.api.tokens import digest
from kluis.audit.models import AuditEntry
from kluis.sites.models import HostingNode, Site
from kluis.sites.testing import make_entry, make_node, make_site
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/api/v1/nodes/firewall"


def _place(site: Site, node: HostingNode, port: int | None) -> Site:
    site.node, site.admin_port = node, port
    site.save(update_fields=["node", "admin_port"])
    return site


def _sites(response) -> dict[int, dict]:
    assert response.status_code == 200, response.content
    return {s["site"]: s for s in json.loads(response.content)["sites"]}


@pytest.fixture
def two_nodes(personas: Personas):
    web01, web02 = make_node("web01"), make_node("web02")
    a = _place(make_site(personas.customer_a), web01, 8000)
    b = _place(make_site(personas.customer_b), web02, 8000)
    make_entry(a, personas.alice, "145.100.10.7")
    make_entry(b, personas.bob, "145.100.10.9")
    return web01, web02, a, b


def test_a_nodes_token_reads_its_own_sites_only(client, personas, two_nodes):
    web01, web02, a, b = two_nodes
    loose = make_site(personas.customer_a)
    token_a = service_token(personas.staff["admin"], ["firewall:read"], node=web01)
    answer = client.get(URL, **bearer(token_a))
    assert _sites(answer) == {
        a.pk: {"site": a.pk, "elements": ["145.100.10.7"], "admin_port": 8000}
    }
    assert json.loads(answer.content)["node"] == "web01"
    token_b = service_token(personas.staff["admin"], ["firewall:read"], node=web02)
    assert set(_sites(client.get(URL, **bearer(token_b)))) == {b.pk}
    # A token bound to no node: the sites placed on no node, as before nodes were known.
    unbound = service_token(personas.staff["admin"], ["firewall:read"])
    answer = client.get(URL, **bearer(unbound))
    assert set(_sites(answer)) == {loose.pk} and json.loads(answer.content)["node"] is None


def test_node_a_cannot_read_node_b_whatever_it_sends(client, personas, two_nodes):
    web01, web02, a, b = two_nodes
    token_a = service_token(personas.staff["admin"], ["firewall:read"], node=web01)
    token_b = service_token(personas.staff["admin"], ["firewall:read"], node=web02)
    etag_b = client.get(URL, **bearer(token_b))["ETag"]
    # B's ETag, a query naming B: A still gets its own sites, never B's.
    answer = client.get(
        URL + f"?node={web02.pk}&node_id={web02.pk}", **bearer(token_a, HTTP_IF_NONE_MATCH=etag_b)
    )
    sites = _sites(answer)
    assert set(sites) == {a.pk} and b.pk not in sites
    assert "145.100.10.9" not in answer.content.decode()
    assert answer["ETag"] != etag_b


def test_the_etag_is_per_node(client, personas, two_nodes):
    web01, _web02, a, b = two_nodes
    token_a = service_token(personas.staff["admin"], ["firewall:read"], node=web01)
    etag_a = client.get(URL, **bearer(token_a))["ETag"]
    assert client.get(URL, **bearer(token_a, HTTP_IF_NONE_MATCH=etag_a)).status_code == 304
    # A change on node B is no change for node A.
    make_entry(b, personas.bob, "145.100.10.10")
    b.admin_port = 8001
    b.save(update_fields=["admin_port"])
    assert client.get(URL, **bearer(token_a, HTTP_IF_NONE_MATCH=etag_a)).status_code == 304
    # One on node A is.
    make_entry(a, personas.alice, "145.100.10.11")
    changed = client.get(URL, **bearer(token_a, HTTP_IF_NONE_MATCH=etag_a))
    assert changed.status_code == 200 and changed["ETag"] != etag_a
    assert _sites(changed)[a.pk]["elements"] == ["145.100.10.7", "145.100.10.11"]


def test_an_administrator_binds_a_service_token_to_a_node(client, personas):
    web01 = make_node("web01")
    log_in(client, personas.staff["admin"])
    page = reverse("api-service-tokens")
    assert "web01" in client.get(page).content.decode()
    made = client.post(
        page,
        {"name": "web01-firewall", "scopes": ["firewall:read"], "days": "90", "node": web01.pk},
    )
    text = made.context["created"]
    row = ApiToken.objects.get(secret_hash=digest(text))
    assert row.node == web01
    [audit] = AuditEntry.objects.filter(action="api.token_created")
    assert json.loads(audit.payload)["data"]["node"] == web01.pk
    assert "(node web01)" in client.get(page).content.decode()
    refused = client.post(
        page, {"name": "x", "scopes": ["firewall:read"], "days": "90", "node": "999999"}
    )
    assert "Kies een bestaande hostingnode." in refused.content.decode()


def test_a_nodes_log_batch_counts_its_own_sites_and_skips_another_nodes(client, personas):
    from django.utils import timezone

    from kluis.usage.models import IngestBatch, SiteDay

    web01, web02 = make_node("web01"), make_node("web02")
    own = _place(make_site(personas.customer_a, hosts="shop.example.nl"), web01, None)
    other = _place(make_site(personas.customer_b, hosts="bakker.example.nl"), web02, None)
    now = timezone.localtime()
    stamp = now.strftime("%d/%b/%Y:%H:%M:%S %z")

    def line(n: int, host: str) -> str:
        return f'145.100.3.{n} - - [{stamp}] "GET / HTTP/1.1" 200 512 "-" "curl/8" "{host}"'

    lines = [line(1, "shop.example.nl"), line(2, "shop.example.nl"), line(3, "bakker.example.nl")]
    body = {"batch_id": "web01-0001", "kind": "nginx", "lines": lines}
    token = service_token(personas.staff["admin"], ["logs:write"], node=web01)
    first = client.post(
        "/api/v1/nodes/logs", json.dumps(body), content_type="application/json", **bearer(token)
    )
    assert first.status_code == 201, first.content
    assert json.loads(first.content) == {"accepted": 2, "skipped": 1, "replayed": False}
    assert SiteDay.objects.get(site=own, day=now.date()).requests == 2
    assert not SiteDay.objects.filter(site=other).exists()
    again = client.post(
        "/api/v1/nodes/logs", json.dumps(body), content_type="application/json", **bearer(token)
    )
    assert json.loads(again.content) == {"accepted": 0, "skipped": 0, "replayed": True}
    assert IngestBatch.objects.get().skipped == 1
    # A token bound to no node counts every site's lines, as before nodes were known.
    unbound = service_token(personas.staff["admin"], ["logs:write"])
    loose = client.post(
        "/api/v1/nodes/logs",
        json.dumps({**body, "batch_id": "loose-0001"}),
        content_type="application/json",
        **bearer(unbound),
    )
    assert json.loads(loose.content)["accepted"] == 3
    assert SiteDay.objects.get(site=other, day=now.date()).requests == 1
