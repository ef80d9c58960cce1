"""Hosting nodes: a site lives on one, its admin port is unique per node and within the
node's range, each node gets its own ruleset and includes, and an ended site frees its
port by itself.

The per-node rulesets in nft itself: test_nftables.py; nginx -t on a node's include:
below.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.sites.firewall import (
    NFT_FILE,
    NGINX_DIR,
    export_requests_handle,
    firewall_export,
)
from kluis.sites.models import FirewallExportRequest, HostingNode, Site
from kluis.sites.nodes import (
    PortOutsideRange,
    next_free_port,
    node_save,
    site_node_set,
    site_port_set,
)
from kluis.sites.shop_link import site_set_status
from kluis.sites.testing import make_entry, make_node, make_site
from kluis.sites.tests.parsers import parse_nft_ruleset
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

V4_A, V4_B = ipaddress.ip_network("145.100.10.7"), ipaddress.ip_network("145.100.10.9")
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def _place(site: Site, node: HostingNode | None, port: int | None = None) -> Site:
    site.node = node
    site.admin_port = port
    site.save(update_fields=["node", "admin_port"])
    return site


def _ruleset(directory):
    return parse_nft_ruleset((directory / NFT_FILE).read_text())


def _url(site: Site, name: str) -> str:
    return reverse(name, kwargs={"site_id": site.pk})


# --- the database ----------------------------------------------------------------------


def test_a_port_is_unique_per_node_not_across_nodes(personas):
    web01, web02 = make_node("web01"), make_node("web02")
    a = _place(make_site(personas.customer_a), web01, 8000)
    b = _place(make_site(personas.customer_b), web02, 8000)  # another node: allowed
    third = make_site(personas.customer_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        _place(third, web01, 8000)
    _place(third, web01, 8001)
    assert {s.pk for s in Site.objects.filter(admin_port=8000)} == {a.pk, b.pk}
    # An unplaced site is not on web01 or web02: the port is free there too.
    unplaced = _place(make_site(personas.customer_b), None, 8000)
    with pytest.raises(IntegrityError), transaction.atomic():
        _place(make_site(personas.customer_a), None, 8000)  # one range among the unplaced
    assert unplaced.admin_port == 8000


def test_a_node_range_must_be_a_range_of_ports():
    for first, last in ((0, 10), (10, 9), (65000, 65536)):
        with pytest.raises(IntegrityError), transaction.atomic():
            HostingNode.objects.create(name=f"web{first}", port_first=first, port_last=last)


def test_the_next_free_port_is_the_lowest_of_the_range_no_site_of_the_node_has(personas):
    web01, web02 = make_node("web01", 8000, 8002), make_node("web02", 8000, 8002)
    _place(make_site(personas.customer_a), web01, 8000)
    _place(make_site(personas.customer_b), web02, 8001)  # another node's: not taken here
    assert next_free_port(web01) == 8001
    _place(make_site(personas.customer_a), web01, 8001)
    _place(make_site(personas.customer_a), web01, 8002)
    assert next_free_port(web01) is None
    shared = make_node("web03", 443, 444)
    assert next_free_port(shared) == 444  # never the shared web port


# --- the export: a directory per node --------------------------------------------------


def test_each_node_gets_its_own_ruleset_and_includes(personas, firewall_dir):
    web01, web02 = make_node("web01"), make_node("web02")
    a = _place(make_site(personas.customer_a), web01, 8000)
    b = _place(make_site(personas.customer_b), web02, 8000)
    loose = make_site(personas.customer_a)
    make_entry(a, personas.alice, "145.100.10.7")
    make_entry(b, personas.bob, "145.100.10.9")
    firewall_export()
    one, two = firewall_dir / "nodes" / "web01", firewall_dir / "nodes" / "web02"
    sets, ports = _ruleset(one)
    assert ports == {8000: [a.pk]}
    assert set(sets) == {f"site_{a.pk}_v4", f"site_{a.pk}_v6"}
    assert sets[f"site_{a.pk}_v4"] == [V4_A]
    sets, ports = _ruleset(two)
    assert ports == {8000: [b.pk]} and sets[f"site_{b.pk}_v4"] == [V4_B]
    # The top directory: the sites on no node, as before nodes were known.
    sets, ports = _ruleset(firewall_dir)
    assert set(sets) == {f"site_{loose.pk}_v4", f"site_{loose.pk}_v6"} and ports == {}
    assert sorted(p.name for p in (one / NGINX_DIR).iterdir()) == [f"site-{a.pk}.conf"]
    assert sorted(p.name for p in (two / NGINX_DIR).iterdir()) == [f"site-{b.pk}.conf"]
    assert firewall_export().written == 0  # nothing changed: nothing written anywhere
    [audit] = AuditEntry.objects.filter(action="sites.firewall_exported").order_by("-seq")[:1]
    assert set(json.loads(audit.payload)["data"]["nodes_nft_sha256"]) == {"web01", "web02"}


def test_a_change_on_one_node_rewrites_that_nodes_files_only(personas, firewall_dir):
    web01, web02 = make_node("web01"), make_node("web02")
    a = _place(make_site(personas.customer_a), web01, 8000)
    b = _place(make_site(personas.customer_b), web02, 8000)
    firewall_export()
    two = (firewall_dir / "nodes" / "web02" / NFT_FILE).read_bytes()
    FirewallExportRequest.objects.all().delete()
    make_entry(a, personas.alice, "145.100.10.7")  # asks for site a's export
    assert export_requests_handle() == 1
    assert _ruleset(firewall_dir / "nodes" / "web01")[0][f"site_{a.pk}_v4"] == [V4_A]
    assert (firewall_dir / "nodes" / "web02" / NFT_FILE).read_bytes() == two
    assert b.pk not in _ruleset(firewall_dir / "nodes" / "web01")[1].get(8000, [])


def test_a_site_moved_to_another_node_leaves_the_old_ones_files(personas, firewall_dir):
    web01, web02 = make_node("web01", 8000, 8099), make_node("web02", 9000, 9099)
    site = _place(make_site(personas.customer_a), web01, 8005)
    make_entry(site, personas.alice)
    firewall_export()
    assert (firewall_dir / "nodes" / "web01" / NGINX_DIR / f"site-{site.pk}.conf").exists()
    FirewallExportRequest.objects.all().delete()
    assert site_node_set(site, web02, actor="test") == (8005, 9000)
    assert list(FirewallExportRequest.objects.values_list("site_id", flat=True)) == [None]
    export_requests_handle()
    assert _ruleset(firewall_dir / "nodes" / "web01") == ({}, {})
    assert not (firewall_dir / "nodes" / "web01" / NGINX_DIR / f"site-{site.pk}.conf").exists()
    assert _ruleset(firewall_dir / "nodes" / "web02")[1] == {9000: [site.pk]}
    [audit] = AuditEntry.objects.filter(action="sites.site_node")
    assert json.loads(audit.payload)["data"] == {
        "site": site.pk,
        "from": web01.pk,
        "to": web02.pk,
        "port_from": 8005,
        "port_to": 9000,
    }


def test_a_moved_site_keeps_its_port_when_the_new_node_has_it_free(personas):
    web01, web02 = make_node("web01", 8000, 8099), make_node("web02", 8000, 8099)
    site = _place(make_site(personas.customer_a), web01, 8005)
    assert site_node_set(site, web02, actor="test") == (8005, 8005)
    other = _place(make_site(personas.customer_b), web01, 8005)
    assert site_node_set(other, web02, actor="test") == (8005, 8000)  # 8005 taken there
    plain = make_site(personas.customer_a)  # no port of its own: gets none
    assert site_node_set(plain, web02, actor="test") == (None, None)


def test_a_site_moved_back_to_no_node_keeps_its_port_if_free_there(personas, firewall_dir):
    web01 = make_node("web01", 8000, 8099)
    site = _place(make_site(personas.customer_a), web01, 8005)
    make_entry(site, personas.alice)
    firewall_export()
    FirewallExportRequest.objects.all().delete()
    assert site_node_set(site, None, actor="test") == (8005, 8005)
    site.refresh_from_db()
    assert (site.node, site.admin_port) == (None, 8005)
    assert list(FirewallExportRequest.objects.values_list("site_id", flat=True)) == [None]
    export_requests_handle()
    assert _ruleset(firewall_dir / "nodes" / "web01") == ({}, {})
    assert _ruleset(firewall_dir)[1] == {8005: [site.pk]}  # the top directory's
    [audit] = AuditEntry.objects.filter(action="sites.site_node")
    assert json.loads(audit.payload)["data"] == {
        "site": site.pk,
        "from": web01.pk,
        "to": None,
        "port_from": 8005,
        "port_to": 8005,
    }
    # A port another site on no node has is cleared, not shared.
    other = _place(make_site(personas.customer_b), web01, 8005)
    assert site_node_set(other, None, actor="test") == (8005, None)
    other.refresh_from_db()
    assert (other.node, other.admin_port) == (None, None)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed here")
def test_nginx_accepts_a_nodes_include(personas, firewall_dir, tmp_path):  # pragma: no cover
    site = _place(make_site(personas.customer_a), make_node("web01"), 8000)
    make_entry(site, personas.alice)
    firewall_export()
    include = firewall_dir / "nodes" / "web01" / NGINX_DIR / f"site-{site.pk}.conf"
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
        "http { server { listen 127.0.0.1:18080;\n"
        f"location /beheer/ {{ include {include}; }} }} }}\n"
    )
    done = subprocess.run([str(NGINX), "-t", "-c", str(conf)], check=False, capture_output=True)
    assert done.returncode == 0, done.stderr


# --- an ended site -----------------------------------------------------------------------


def test_an_ended_site_frees_its_port_on_its_node_for_another_site(personas, firewall_dir):
    web01 = make_node("web01")
    old = _place(make_site(personas.customer_a), web01, 8000)
    make_entry(old, personas.alice)
    firewall_export()
    assert _ruleset(firewall_dir / "nodes" / "web01")[1] == {8000: [old.pk]}
    site_set_status(old, Site.Status.ENDED, actor="system:sites_sync")
    old.refresh_from_db()
    assert old.admin_port is None
    export_requests_handle()
    ruleset = (firewall_dir / "nodes" / "web01" / NFT_FILE).read_text()
    assert "tcp dport 8000" not in ruleset  # its drop has left
    [audit] = AuditEntry.objects.filter(action="sites.site_admin_port")
    assert json.loads(audit.payload)["data"] == {
        "site": old.pk,
        "from": 8000,
        "to": None,
        "reason": "ended",
    }
    assert audit.actor == "system:sites_sync"
    new = make_site(personas.customer_b)
    _place(new, web01, None)
    assert next_free_port(web01) == 8000
    _place(new, web01, 8000)  # reusable at once


# --- the sites desk: nodes ---------------------------------------------------------------


def test_orders_staff_add_and_edit_a_node_audited(client, personas):
    log_in(client, personas.staff["orders"])
    url = reverse("sites_backoffice:nodes")
    assert client.get(url).status_code == 200
    data = {"name": "web01", "port_first": "8000", "port_last": "8099", "active": "on"}
    assert client.post(url, data).status_code == 302
    node = HostingNode.objects.get(name="web01")
    assert (node.port_first, node.port_last, node.active) == (8000, 8099, True)
    page = client.get(url).content.decode()
    assert "web01" in page and "8000\u20138099" in page
    edit = reverse("sites_backoffice:node", kwargs={"node_id": node.pk})
    # The name stays (it is the node's directory); the range and the flag change.
    client.post(edit, {"name": "web99", "port_first": "8000", "port_last": "8199"})
    node.refresh_from_db()
    assert (node.name, node.port_last, node.active) == ("web01", 8199, False)
    actions = list(
        AuditEntry.objects.filter(action__startswith="sites.node_").values_list("action", flat=True)
    )
    assert sorted(actions) == ["sites.node_created", "sites.node_edited"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Web 01", "port_first": "8000", "port_last": "8099"}, "Een nodenaam is"),
        ({"name": "web01", "port_first": "8100", "port_last": "8099"}, "De laatste poort mag"),
        ({"name": "web01", "port_first": "0", "port_last": "8099"}, "Een poort is een getal"),
        ({"name": "web01", "port_first": "8000", "port_last": "70000"}, "Een poort is een getal"),
        ({"name": "taken", "port_first": "8000", "port_last": "8099"}, "Er is al een node"),
    ],
)
def test_a_bad_node_gets_a_dutch_message(client, personas, data, message):
    make_node("taken")
    log_in(client, personas.staff["orders"])
    response = client.post(reverse("sites_backoffice:nodes"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert HostingNode.objects.count() == 1


def test_a_range_that_leaves_out_a_sites_port_is_refused(client, personas):
    node = make_node("web01", 8000, 8099)
    _place(make_site(personas.customer_a), node, 8050)
    log_in(client, personas.staff["orders"])
    edit = reverse("sites_backoffice:node", kwargs={"node_id": node.pk})
    response = client.post(edit, {"port_first": "8000", "port_last": "8010", "active": "on"})
    assert response.status_code == 200
    assert "Sites op deze node hebben poorten buiten die reeks (8050)" in response.content.decode()
    node.refresh_from_db()
    assert node.port_last == 8099


def test_the_service_refuses_a_range_that_leaves_out_a_sites_port(personas):
    # Not only the form: a range narrowed after the form looked (a port given in the
    # same second) is refused where the range is saved, with the node's row locked.
    node = make_node("web01", 8000, 8099)
    _place(make_site(personas.customer_a), node, 8050)
    _place(make_site(personas.customer_b), node, 8060)
    node.port_last = 8010
    with pytest.raises(PortOutsideRange) as refused:
        node_save(node)
    assert refused.value.ports == [8050, 8060]
    node.refresh_from_db()
    assert node.port_last == 8099
    node.port_last = 8060
    node_save(node)  # both ports still inside: saved
    assert HostingNode.objects.get(pk=node.pk).port_last == 8060


def test_the_service_refuses_a_port_outside_the_range_of_the_node_as_it_is_now(personas):
    node = make_node("web01", 8000, 8099)
    site = _place(make_site(personas.customer_a), node, 8010)
    stale = Site.objects.get(pk=site.pk)
    HostingNode.objects.filter(pk=node.pk).update(port_last=8020)  # narrowed meanwhile
    with pytest.raises(PortOutsideRange):
        site_port_set(stale, 8050, actor="test")
    site.refresh_from_db()
    assert site.admin_port == 8010
    assert not AuditEntry.objects.filter(action="sites.site_admin_port").exists()
    site_port_set(stale, 8015, actor="test")
    site.refresh_from_db()
    assert site.admin_port == 8015


def test_a_node_edit_after_a_port_was_given_outside_is_refused_in_dutch(
    client, personas, monkeypatch
):
    # The form saw no port outside the new range; a port was given before the save.
    from kluis.sites import forms

    node = make_node("web01", 8000, 8099)
    site = _place(make_site(personas.customer_a), node, 8005)
    monkeypatch.setattr("kluis.sites.nodes.ports_taken", _given_meanwhile(site, 8050))
    log_in(client, personas.staff["orders"])
    edit = reverse("sites_backoffice:node", kwargs={"node_id": node.pk})
    response = client.post(edit, {"port_first": "8000", "port_last": "8010", "active": "on"})
    assert response.status_code == 200
    assert forms.range_outside_message([8050]) in response.content.decode()
    node.refresh_from_db()
    assert node.port_last == 8099
    assert not AuditEntry.objects.filter(action="sites.node_edited").exists()


def _given_meanwhile(site: Site, port: int):
    from kluis.sites import nodes

    real, calls = nodes.ports_taken, []

    def ports_taken(node, *, besides=None, own=False):
        calls.append(node)
        if len(calls) == 2:  # after the form's look, before the save's
            Site.objects.filter(pk=site.pk).update(admin_port=port)
        return real(node, besides=besides, own=own)

    return ports_taken


def test_only_orders_staff_manage_nodes(client, personas):
    for role in ("support", "finance"):
        log_in(client, personas.staff[role])
        assert client.get(reverse("sites_backoffice:nodes")).status_code == 403


# --- the sites desk: a site's node and port ----------------------------------------------


def test_orders_staff_place_a_site_and_the_port_form_offers_the_next_free_port(client, personas):
    web01 = make_node("web01", 8000, 8099)
    _place(make_site(personas.customer_b), web01, 8000)
    site = make_site(personas.customer_a)
    log_in(client, personas.staff["orders"])
    page = client.get(_url(site, "sites_backoffice:site")).content.decode()
    assert _url(site, "sites_backoffice:site-node") in page and "web01" in page
    done = client.post(_url(site, "sites_backoffice:site-node"), {"node": str(web01.pk)})
    assert done.status_code == 302
    site.refresh_from_db()
    assert site.node == web01 and site.admin_port is None
    page = client.get(_url(site, "sites_backoffice:site")).content.decode()
    assert 'name="admin_port" value="8001"' in page  # the node's next free port, offered
    assert "8000 tot en met 8099" in page
    assert (
        client.post(_url(site, "sites_backoffice:site-port"), {"admin_port": "8001"}).status_code
        == 302
    )
    site.refresh_from_db()
    assert site.admin_port == 8001
    assert AuditEntry.objects.filter(action="sites.site_node").count() == 1


def test_the_port_form_refuses_a_port_outside_the_nodes_range_in_dutch(client, personas):
    web01 = make_node("web01", 8000, 8099)
    site = _place(make_site(personas.customer_a), web01, 8010)
    log_in(client, personas.staff["orders"])
    response = client.post(_url(site, "sites_backoffice:site-port"), {"admin_port": "9000"})
    assert response.status_code == 200
    assert (
        "Poort 9000 ligt buiten de reeks van node web01: kies een poort van 8000 tot en met 8099."
        in response.content.decode()
    )
    site.refresh_from_db()
    assert site.admin_port == 8010
    assert not FirewallExportRequest.objects.filter(site=site).exists()


def test_the_port_form_refuses_a_port_of_the_same_node_and_allows_another_nodes(client, personas):
    web01, web02 = make_node("web01", 8000, 8099), make_node("web02", 8000, 8099)
    same = _place(make_site(personas.customer_b), web01, 8020)
    _place(make_site(personas.customer_b), web02, 8030)
    site = _place(make_site(personas.customer_a), web01, None)
    log_in(client, personas.staff["orders"])
    url = _url(site, "sites_backoffice:site-port")
    refused = client.post(url, {"admin_port": "8020"})
    assert f"Poort 8020 is al de poort van de beheeromgeving van site {same.pk}." in (
        refused.content.decode()
    )
    assert client.post(url, {"admin_port": "8030"}).status_code == 302  # web02's: free here
    site.refresh_from_db()
    assert site.admin_port == 8030


def test_orders_staff_move_a_site_back_to_no_node(client, personas):
    web01 = make_node("web01", 8000, 8099)
    _place(make_site(personas.customer_b), None, 8010)
    site = _place(make_site(personas.customer_a), web01, 8010)
    log_in(client, personas.staff["orders"])
    page = client.get(_url(site, "sites_backoffice:site")).content.decode()
    assert '<option value="">geen node</option>' in page
    response = client.post(_url(site, "sites_backoffice:site-node"), {"node": ""}, follow=True)
    assert "Een andere site zonder node heeft beheerpoort 8010 al" in response.content.decode()
    site.refresh_from_db()
    assert (site.node, site.admin_port) == (None, None)
    assert AuditEntry.objects.filter(action="sites.site_node").count() == 1
    again = client.post(_url(site, "sites_backoffice:site-node"), {"node": ""}, follow=True)
    assert "De site stond al op deze node." in again.content.decode()
    assert AuditEntry.objects.filter(action="sites.site_node").count() == 1


def test_an_inactive_node_is_not_offered_and_not_taken(client, personas):
    make_node("web01")
    old = HostingNode.objects.create(name="web00", port_first=7000, port_last=7099, active=False)
    site = make_site(personas.customer_a)
    log_in(client, personas.staff["orders"])
    page = client.get(_url(site, "sites_backoffice:site")).content.decode()
    assert "web01" in page and "web00" not in page
    response = client.post(_url(site, "sites_backoffice:site-node"), {"node": str(old.pk)})
    assert response.status_code == 200
    assert "Kies een node die in gebruik is." in response.content.decode()
    site.refresh_from_db()
    assert site.node is None
