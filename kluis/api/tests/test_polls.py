"""A node's firewall polls: the ETag kept while nothing changes (and renewed by every
change and by time), and unchanged 304s audited without a commit each."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kluis.api import quiet
from kluis.api.models import ApiToken
from kluis.api.testing import bearer, problem_of, service_token
from kluis.api.tokens import digest
from kluis.audit.models import AuditEntry
from kluis.sites import services as sites_services
from kluis.sites.firewall import inputs_digest, inputs_etag
from kluis.sites.models import Site
from kluis.sites.shop_link import site_set_status
from kluis.sites.testing import make_entry, make_site
from kluis.testing import Personas

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_etag_is_kept_until_a_change_or_an_entry_ends(personas: Personas) -> None:
    site = make_site(personas.customer_a)
    entry = make_entry(site, personas.alice)
    first = inputs_etag()
    assert first == inputs_digest()
    with CaptureQueriesContext(connection) as unchanged:
        assert inputs_etag() == first
    assert len(unchanged.captured_queries) == 1  # the version row, not every entry's id

    soon = timezone.now() + dt.timedelta(minutes=5)
    ending = sites_services.entry_add(
        site=site, text="145.100.20.1", label="tijdelijk", expires_at=soon, by=personas.alice
    )
    added = inputs_etag()
    assert added != first and added == inputs_digest()
    # Time alone: once the entry has ended, the ETag is that of the lists without it.
    later = soon + dt.timedelta(seconds=1)
    assert inputs_etag(later) == inputs_digest(later) != added
    assert inputs_etag(soon - dt.timedelta(seconds=1)) == added

    sites_services.entry_remove(entry=entry, by=personas.alice)
    removed = inputs_etag(later)
    assert removed == inputs_digest(later)
    assert ending.pk  # still on the list until `soon`
    site_set_status(site, Site.Status.SUSPENDED, actor="system:test")
    assert inputs_etag(later) == inputs_digest(later) != removed


def test_unchanged_polls_are_audited_once_a_minute_and_counted(
    client, personas: Personas, settings, monkeypatch
) -> None:
    settings.KLUIS_API_RATE_PER_MINUTE = 6
    moment = [1_800_000_000.0]  # the start of a minute
    monkeypatch.setattr(quiet, "clock", lambda: moment[0])
    make_entry(make_site(personas.customer_a), personas.alice)
    node = service_token(personas.staff["admin"], ["firewall:read"])
    row = ApiToken.objects.get(secret_hash=digest(node))
    url = "/api/v1/nodes/firewall"

    def entries() -> list[dict]:
        found = AuditEntry.objects.filter(action="api.used").order_by("seq")
        return [json.loads(e.payload)["data"] for e in found]

    etag = client.get(url, **bearer(node))["ETag"]
    poll = bearer(node, HTTP_IF_NONE_MATCH=etag)
    assert client.get(url, **poll).status_code == 304  # recorded: the minute's first 304
    row.refresh_from_db()
    used = row.last_used_at
    assert [e["status"] for e in entries()] == [200, 304]
    for _ in range(3):
        assert client.get(url, **poll).status_code == 304
    assert len(entries()) == 2  # answered without a write
    row.refresh_from_db()
    assert row.last_used_at == used and row.window_count == 2

    # Over the limit (2 counted + 3 quiet + this one = 6, then 7): the quiet ones count.
    assert client.get(url, **poll).status_code == 304
    problem_of(client.get(url, **poll), 429, "rate-limited")
    assert entries()[-1] == {**entries()[-1], "status": 429, "repeats": 4}

    # The next minute: the first poll is recorded again, with nothing left to carry.
    moment[0] += 60
    assert client.get(url, **poll).status_code == 304
    assert entries()[-1]["status"] == 304 and "repeats" not in entries()[-1]
    assert client.get(url, **poll).status_code == 304
    # A change: the next fetch is a 200, recorded at once with the quiet one before it.
    make_entry(Site.objects.get(customer=personas.customer_a), personas.alice, "145.100.30.3")
    changed = client.get(url, **poll)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert entries()[-1]["status"] == 200 and entries()[-1]["repeats"] == 1

    # A revoked token is refused at once, quiet minute or not.
    moment[0] += 60
    fresh = bearer(node, HTTP_IF_NONE_MATCH=changed["ETag"])
    assert client.get(url, **fresh).status_code == 304
    ApiToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    problem_of(client.get(url, **fresh), 401, "unauthorized")


def test_the_firewall_fetch_names_each_sites_admin_port_and_a_new_port_is_a_new_version(
    client, personas: Personas
) -> None:
    with_port = make_site(personas.customer_a)
    make_entry(with_port, personas.alice)
    without = make_site(personas.customer_b)
    with_port.admin_port = 8443
    with_port.save(update_fields=["admin_port"])
    node = service_token(personas.staff["admin"], ["firewall:read"])
    url = "/api/v1/nodes/firewall"
    first = client.get(url, **bearer(node))
    sites = {s["site"]: s for s in json.loads(first.content)["sites"]}
    assert sites[with_port.pk] == {
        "site": with_port.pk,
        "elements": ["145.100.10.7"],
        "admin_port": 8443,
    }
    assert sites[without.pk]["admin_port"] is None
    with_port.admin_port = 9443
    with_port.save(update_fields=["admin_port"])
    again = client.get(url, **bearer(node, HTTP_IF_NONE_MATCH=first["ETag"]))
    assert again.status_code == 200 and again["ETag"] != first["ETag"]
    sites = {s["site"]: s for s in json.loads(again.content)["sites"]}
    assert sites[with_port.pk]["admin_port"] == 9443
