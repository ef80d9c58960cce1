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


def test_a_nodes_new_token_continues_its_batches_and_postfix_queue(client, personas):
    """A node's token is replaced (a new one made, the old revoked): a batch the node
    sent with the old token counts nothing again with the new one, and a message whose
    queue id the old token's batch opened is completed by the new token's batch."""
    from django.utils import timezone

    from kluis.api.tokens import token_revoke
    from kluis.usage.models import MailDay
    from kluis.usage.testing import make_mailbox
    from kluis.usage.tests.lines import syslog

    web01 = make_node("web01")
    sender = "info@alice-winkel.nl"
    box = make_mailbox(personas.customer_a, sender)
    today = timezone.localdate()
    admin = personas.staff["admin"]
    old = service_token(admin, ["logs:write"], node=web01)

    def post(token: str, batch_id: str, lines: list[str]) -> dict:
        body = {"batch_id": batch_id, "kind": "postfix", "lines": lines}
        answer = client.post(
            "/api/v1/nodes/logs", json.dumps(body), content_type="application/json", **bearer(token)
        )
        assert answer.status_code in (200, 201), answer.content
        return json.loads(answer.content)

    opened = [
        syslog(today, "qmgr", f"1A1A1A1A1A: from=<{sender}>, size=300, nrcpt=1 (queue active)")
    ]
    assert post(old, "web01-0001", opened)["accepted"] == 1
    token_revoke(token=ApiToken.objects.get(secret_hash=digest(old)), by=admin)
    new = service_token(admin, ["logs:write"], node=web01)
    # The same batch again, now with the node's new token: a replay, nothing counted.
    assert post(new, "web01-0001", opened) == {"accepted": 0, "skipped": 0, "replayed": True}
    delivered = [
        syslog(
            today,
            "smtp",
            "1A1A1A1A1A: to=<jan@elders.example>, relay=mx.elders.example[203.0.113.5]:25, "
            "delay=1.2, delays=0.1/0.01/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
            1,
        )
    ]
    assert post(new, "web01-0002", delivered)["accepted"] == 1
    # The delivery found the sender through the queue state the old token's batch left.
    day = MailDay.objects.get(mailbox=box, day=today)
    assert (day.sent, day.sent_bytes) == (1, 300)
    # Another node's token (or one bound to no node) has a state of its own.
    loose = service_token(admin, ["logs:write"])
    assert post(loose, "web01-0001", opened)["replayed"] is False


def test_usage_0006_gives_a_nodes_tokens_state_to_the_node(personas):
    """The rows a node's tokens kept under `token-<id>` become the node's; where two
    tokens of the node used the same batch or queue id the newer token's row stays; a
    token bound to no node keeps its own."""
    import datetime as dt
    import importlib

    from django.apps import apps
    from django.utils import timezone

    from kluis.api.nodes import ingest_key
    from kluis.usage.models import IngestBatch, MailQueue, PendingMessage

    migration = importlib.import_module("kluis.usage.migrations.0006_ingest_state_per_node")
    web01 = make_node("web01")
    admin = personas.staff["admin"]
    rows = [
        ApiToken.objects.get(secret_hash=digest(service_token(admin, ["logs:write"], node=n)))
        for n in (web01, web01, None)
    ]
    for n, row in enumerate(rows):
        row.created_at = timezone.now() + dt.timedelta(minutes=n)
        row.save(update_fields=["created_at"])
    older, newer, loose = (f"token-{row.pk}" for row in rows)
    IngestBatch.objects.create(node=older, batch_id="b1", kind="nginx", digest="old")
    IngestBatch.objects.create(node=older, batch_id="b0", kind="nginx", digest="zero")
    IngestBatch.objects.create(node=newer, batch_id="b1", kind="nginx", digest="new")
    IngestBatch.objects.create(node=loose, batch_id="b1", kind="nginx", digest="loose")
    MailQueue.objects.create(node=older, version=7)
    MailQueue.objects.create(node=newer, version=3)
    day = timezone.localdate()
    PendingMessage.objects.create(node=older, queue_id="1A1A1A1A1A", size=300, seen=day)
    migration.per_node(apps, None)
    node = ingest_key(rows[0].pk, web01.pk)
    assert dict(IngestBatch.objects.filter(node=node).values_list("batch_id", "digest")) == {
        "b1": "new",
        "b0": "zero",
    }
    assert IngestBatch.objects.get(node=loose).digest == "loose"
    assert MailQueue.objects.get(node=node).version == 8
    assert not MailQueue.objects.filter(node__in=[older, newer]).exists()
    assert PendingMessage.objects.get(queue_id="1A1A1A1A1A").node == node
    migration.per_token(apps, None)
    assert set(IngestBatch.objects.values_list("node", flat=True)) == {newer, loose}
