"""Switching a machine from the export's top directory to its own `nodes/<name>/`.

A node made as being switched over (`HostingNode.switching`) has its sites written to
the top directory as well as to its own, until orders staff confirm on the nodes desk
that the machine loads its own directory. At every step of the way over (the node made,
a site placed on it, its port changed, an entry added and removed, the site suspended,
the switch confirmed) the files that the machine still loading the top directory reads
close the site's admin port to every address not on its list: checked here by the
strict parsers (and `nft -c -f` where nft runs), and in a kernel in test_nftables.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import IntegrityError
from django.urls import reverse

from kluis.api.testing import bearer, service_token
from kluis.audit.models import AuditEntry
from kluis.sites.firewall import NFT_FILE, NGINX_DIR, export_requests_handle, firewall_export
from kluis.sites.models import AllowEntry, FirewallExportRequest, HostingNode, Site
from kluis.sites.nodes import (
    PortTaken,
    next_free_port,
    node_save,
    node_switched,
    site_node_set,
    site_port_set,
)
from kluis.sites.services import entry_remove
from kluis.sites.shop_link import site_set_status
from kluis.sites.testing import make_entry, make_site
from kluis.sites.tests.parsers import parse_nft_ruleset, parse_nginx
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

NFT = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
ALLOWED, LATER = "145.100.10.7", "145.100.10.8"
ACTOR = "system:test"


def switching_node(name: str = "web01", first: int = 8000, last: int = 8099) -> HostingNode:
    node = HostingNode(name=name, port_first=first, port_last=last, switching=True)
    node_save(node)
    return node


def closed(directory: Path, site: Site, port: int, allowed: set[str]) -> None:
    """The files in `directory` close `port` to every address but `allowed`: the chain
    accepts on it only this site's sets, which hold exactly `allowed`, then drops; the
    site's nginx include allows exactly `allowed` and denies all. Where nft runs, it
    takes the ruleset."""
    text = (directory / NFT_FILE).read_text()
    sets, ports = parse_nft_ruleset(text)
    assert ports.get(port) == [site.pk], f"port {port} is not closed in {directory}: {ports}"
    listed = {str(n) for family in (4, 6) for n in sets[f"site_{site.pk}_v{family}"]}
    wanted = {str(ipaddress.ip_network(a)) for a in allowed}
    assert listed == wanted
    include = (directory / NGINX_DIR / f"site-{site.pk}.conf").read_text()
    assert {str(n) for n in parse_nginx(include)} == wanted
    assert include.endswith("deny all;\n")
    if NFT is not None and os.geteuid() == 0:
        checked = subprocess.run([NFT, "-c", "-f", str(directory / NFT_FILE)], capture_output=True)
        assert checked.returncode == 0, checked.stderr


def absent(directory: Path, site: Site) -> None:
    sets, _ports = parse_nft_ruleset((directory / NFT_FILE).read_text())
    assert f"site_{site.pk}_v4" not in sets
    assert not (directory / NGINX_DIR / f"site-{site.pk}.conf").exists()


def exported() -> None:
    """What the worker does within seconds of a change, then the scheduled export."""
    export_requests_handle()
    assert not FirewallExportRequest.objects.exists()
    firewall_export()


def test_a_placed_site_stays_closed_in_the_top_directory_until_the_switch(personas, firewall_dir):
    site = make_site(personas.customer_a)
    site_port_set(site, 8443, actor=ACTOR)
    entry = make_entry(site, personas.alice, ALLOWED)
    exported()
    top, own = firewall_dir, firewall_dir / "nodes" / "web01"
    closed(top, site, 8443, {ALLOWED})  # before nodes: the old machine's files
    web01 = switching_node("web01", 8000, 8099)
    exported()
    closed(top, site, 8443, {ALLOWED})
    # Placed on the node being switched: in its own directory and still in the top one.
    _before, port = site_node_set(site, web01, actor=ACTOR)
    assert port == 8000  # 8443 is outside the node's range
    export_requests_handle()  # a whole export, as a move asks
    closed(top, site, 8000, {ALLOWED})
    closed(own, site, 8000, {ALLOWED})
    # Changes of the site reach both directories through the per-site export.
    site_port_set(site, 8001, actor=ACTOR)
    make_entry(site, personas.alice, LATER)
    export_requests_handle()
    for directory in (top, own):
        closed(directory, site, 8001, {ALLOWED, LATER})
    entry_remove(entry=AllowEntry.objects.get(pk=entry.pk), by=personas.alice)
    export_requests_handle()
    for directory in (top, own):
        closed(directory, site, 8001, {LATER})
    site_set_status(site, Site.Status.SUSPENDED, actor=ACTOR)
    exported()
    for directory in (top, own):
        closed(directory, site, 8001, set())  # suspended: closed to everyone
    site_set_status(site, Site.Status.LIVE, actor=ACTOR)
    exported()
    # A token bound to no node (the old machine's poller) gets the site too.
    unbound = service_token(personas.staff["admin"], ["firewall:read"])
    answer = json.loads(client_get("/api/v1/nodes/firewall", **bearer(unbound)).content)
    assert {s["site"]: s["admin_port"] for s in answer["sites"]}[site.pk] == 8001
    # Confirmed: the site leaves the top directory; its node's files keep it.
    assert node_switched(web01, actor=ACTOR)
    export_requests_handle()
    absent(top, site)
    closed(own, site, 8001, {LATER})
    answer = json.loads(client_get("/api/v1/nodes/firewall", **bearer(unbound)).content)
    assert site.pk not in {s["site"] for s in answer["sites"]}
    assert not node_switched(web01, actor=ACTOR)  # once


def client_get(url: str, **extra: str):  # a fresh client: no session of the test's
    from django.test import Client

    return Client().get(url, **extra)


def test_a_node_made_in_its_own_directory_takes_its_sites_out_of_the_top_at_once(
    personas, firewall_dir
):
    """A new machine that never loaded the top directory: no switch, as before."""
    web02 = HostingNode(name="web02", port_first=8000, port_last=8099)
    node_save(web02)
    site = make_site(personas.customer_a)
    site_node_set(site, web02, actor=ACTOR)
    site_port_set(site, 8000, actor=ACTOR)
    make_entry(site, personas.alice, ALLOWED)
    exported()
    absent(firewall_dir, site)
    closed(firewall_dir / "nodes" / "web02", site, 8000, {ALLOWED})


def test_while_switching_a_port_is_unique_among_all_the_top_directorys_sites(personas):
    """The top directory's ruleset holds the sites on no node and those of the nodes being
    switched: a port two of them shared would open one's admin to the other's list."""
    loose = make_site(personas.customer_a)
    site_port_set(loose, 8000, actor=ACTOR)
    web01, web02 = switching_node("web01"), switching_node("web02")
    placed = make_site(personas.customer_b)
    site_node_set(placed, web01, actor=ACTOR)
    assert next_free_port(web01, besides=placed) == 8001  # 8000: the unplaced site's
    with pytest.raises(PortTaken):
        site_port_set(placed, 8000, actor=ACTOR)
    site_port_set(placed, 8001, actor=ACTOR)
    other = make_site(personas.customer_a)
    site_node_set(other, web02, actor=ACTOR)
    with pytest.raises(IntegrityError):  # web01's site has it in the top directory
        site_port_set(other, 8001, actor=ACTOR)
    # A site moved back to no node does not keep a port a switching node's site has.
    moved = make_site(personas.customer_b)
    site_node_set(moved, web02, actor=ACTOR)
    site_port_set(moved, 8002, actor=ACTOR)
    node_switched(web02, actor=ACTOR)
    site_port_set(other, 8001, actor=ACTOR)  # web02 has its own directory now
    site_port_set(moved, 8002, actor=ACTOR)
    Site.objects.filter(pk=placed.pk).update(admin_port=None)
    site_port_set(placed, 8002, actor=ACTOR)  # web02's 8002 is no top port any more
    assert site_node_set(moved, None, actor=ACTOR) == (8002, None)  # placed has it on top


def test_orders_staff_make_a_node_switching_and_confirm_the_switch(client, personas):
    log_in(client, personas.staff["orders"])
    url = reverse("sites_backoffice:nodes")
    form = client.get(url).content.decode()
    assert 'name="switching"' in form and "checked" in form.split('name="switching"')[1][:80]
    data = {"name": "web01", "port_first": "8000", "port_last": "8099", "active": "on"}
    client.post(url, {**data, "switching": "on"})
    node = HostingNode.objects.get(name="web01")
    assert node.switching
    assert "wordt overgezet" in client.get(url).content.decode()
    page = reverse("sites_backoffice:node", kwargs={"node_id": node.pk})
    shown = client.get(page).content.decode()
    assert "De server laadt zijn eigen map" in shown
    assert "Deze node heeft nog geen eigen token." in shown
    FirewallExportRequest.objects.all().delete()
    confirm = reverse("sites_backoffice:node-switched", kwargs={"node_id": node.pk})
    done = client.post(confirm, follow=True).content.decode()
    assert "Node web01 laadt nu zijn eigen map" in done
    assert not HostingNode.objects.get(pk=node.pk).switching
    assert FirewallExportRequest.objects.filter(site=None).exists()
    audit = AuditEntry.objects.get(action="sites.node_switched")
    assert json.loads(audit.payload)["data"]["name"] == "web01"
    again = client.post(confirm, follow=True).content.decode()
    assert "Node web01 laadt zijn eigen map al." in again
    assert AuditEntry.objects.filter(action="sites.node_switched").count() == 1
    # The edit form does not turn switching on again.
    client.post(page, {"port_first": "8000", "port_last": "8099", "switching": "on"})
    assert not HostingNode.objects.get(pk=node.pk).switching
    missing = reverse("sites_backoffice:node-switched", kwargs={"node_id": 99999})
    assert client.post(missing).status_code == 404


def test_the_node_page_in_english(client, personas):
    node = switching_node("web01")
    log_in(client, personas.staff["orders"])
    page = reverse("sites_backoffice:node", kwargs={"node_id": node.pk})
    client.cookies["django_language"] = "en"
    shown = client.get(page).content.decode()
    assert "The server loads its own directory" in shown


def test_the_port_form_names_the_top_directorys_site_that_has_the_port(client, personas):
    loose = make_site(personas.customer_b)
    site_port_set(loose, 8020, actor=ACTOR)
    web01 = switching_node("web01")
    site = make_site(personas.customer_a)
    site_node_set(site, web01, actor=ACTOR)
    log_in(client, personas.staff["orders"])
    url = reverse("sites_backoffice:site-port", kwargs={"site_id": site.pk})
    refused = client.post(url, {"admin_port": "8020"}).content.decode()
    assert f"Poort 8020 is al de poort van de beheeromgeving van site {loose.pk}." in refused
    assert Site.objects.get(pk=site.pk).admin_port != 8020
    node_switched(web01, actor=ACTOR)
    assert client.post(url, {"admin_port": "8020"}).status_code == 302  # own directory now
    assert Site.objects.get(pk=site.pk).admin_port == 8020
