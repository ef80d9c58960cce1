"""A site's admin port: set on the sites desk, written as the ruleset's chain.

The chain is read back by the strict parser (tests/parsers.py); nft itself checks and
loads it in test_nftables.py.
"""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from kluis.audit.models import AuditEntry
from kluis.sites.firewall import (
    NFT_FILE,
    export_requests_handle,
    firewall_export,
    firewall_export_sites,
    render_nft,
)
from kluis.sites.forms import SitePortForm
from kluis.sites.models import FirewallExportRequest, Site
from kluis.sites.shop_link import site_set_status
from kluis.sites.testing import make_entry, make_site
from kluis.sites.tests.parsers import ParseError, parse_nft_ruleset
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _port(site: Site, port: int | None) -> None:
    site.admin_port = port
    site.save(update_fields=["admin_port"])


def _ruleset(root):
    return parse_nft_ruleset((root / NFT_FILE).read_text())


def _site_url(site: Site, name: str = "sites_backoffice:site-port") -> str:
    return reverse(name, kwargs={"site_id": site.pk})


# --- the ruleset ---------------------------------------------------------------------


def test_a_site_with_a_port_gets_its_rules_and_one_without_none(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.7")
    plain = make_site(personas.customer_b)
    _port(site, 8443)
    firewall_export()
    sets, ports = _ruleset(firewall_dir)
    assert ports == {8443: [site.pk]}
    assert f"site_{plain.pk}_v4" in sets  # its sets are there, no rule names them
    text = (firewall_dir / NFT_FILE).read_text()
    chain = text[text.index("\tchain admin_ports {") :]
    assert chain == (
        "\tchain admin_ports {\n"
        "\t\ttype filter hook input priority filter; policy accept;\n"
        f"\t\ttcp dport 8443 ip saddr @site_{site.pk}_v4 accept\n"
        f"\t\ttcp dport 8443 ip6 saddr @site_{site.pk}_v6 accept\n"
        "\t\ttcp dport 8443 drop\n"
        "\t}\n"
        "}\n"
    )


def test_a_port_change_rewrites_the_ruleset_and_nothing_else_does(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    firewall_export()
    before = (firewall_dir / NFT_FILE).read_bytes()
    assert "chain" not in before.decode()
    assert firewall_export().written == 0
    _port(site, 8443)
    assert firewall_export().written == 1  # the ruleset; the nginx include is unchanged
    assert _ruleset(firewall_dir)[1] == {8443: [site.pk]}
    with_port = (firewall_dir / NFT_FILE).read_bytes()
    assert firewall_export().written == 0
    assert (firewall_dir / NFT_FILE).read_bytes() == with_port  # byte-identical
    _port(site, 2222)
    assert firewall_export().written == 1
    assert _ruleset(firewall_dir)[1] == {2222: [site.pk]}
    _port(site, None)
    assert firewall_export().written == 1
    assert (firewall_dir / NFT_FILE).read_bytes() == before


def test_a_suspended_site_keeps_its_drop_and_an_ended_one_frees_its_port(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    _port(site, 8443)
    site_set_status(site, Site.Status.SUSPENDED, actor="test")
    firewall_export()
    sets, ports = _ruleset(firewall_dir)
    assert ports == {8443: [site.pk]}
    assert sets[f"site_{site.pk}_v4"] == [] and sets[f"site_{site.pk}_v6"] == []
    FirewallExportRequest.objects.all().delete()
    site_set_status(site, Site.Status.ENDED, actor="test")
    site.refresh_from_db()
    assert site.admin_port is None
    # The ending asks for the site's export itself: its port's drop leaves the ruleset.
    assert list(FirewallExportRequest.objects.values_list("site_id", flat=True)) == [site.pk]
    assert export_requests_handle() == 1
    assert _ruleset(firewall_dir)[1] == {}
    assert "chain" not in (firewall_dir / NFT_FILE).read_text()
    [audit] = AuditEntry.objects.filter(action="sites.site_admin_port")
    assert json.loads(audit.payload)["data"] == {
        "site": site.pk,
        "from": 8443,
        "to": None,
        "reason": "ended",
    }


def test_an_ended_sites_port_goes_to_a_new_site_alone(personas, firewall_dir):
    old = make_site(personas.customer_a)
    _port(old, 8443)
    site_set_status(old, Site.Status.ENDED, actor="test")
    new = make_site(personas.customer_b)
    make_entry(new, personas.bob, "145.100.10.9")
    _port(new, 8443)  # free again: the old site gave it up when it ended
    firewall_export()
    text = (firewall_dir / NFT_FILE).read_text()
    assert _ruleset(firewall_dir)[1] == {8443: [new.pk]}
    assert f"@site_{old.pk}_v4 accept" not in text
    assert text.count("tcp dport 8443 drop") == 1


def test_the_queue_writes_the_bytes_of_a_whole_export_with_the_ports(personas, firewall_dir):
    first, second = make_site(personas.customer_a), make_site(personas.customer_b)
    make_entry(first, personas.alice, "145.100.10.7")
    _port(second, 8444)
    assert export_requests_handle() == 1  # no files yet: a whole export
    assert _ruleset(firewall_dir)[1] == {8444: [second.pk]}
    _port(first, 8443)
    firewall_export_sites({first.pk})
    queued = (firewall_dir / NFT_FILE).read_bytes()
    assert _ruleset(firewall_dir)[1] == {8443: [first.pk], 8444: [second.pk]}
    assert firewall_export().written == 0
    assert (firewall_dir / NFT_FILE).read_bytes() == queued
    # A port changed on another site than the one exported is still taken up (plain column).
    _port(second, None)
    firewall_export_sites({first.pk})
    assert _ruleset(firewall_dir)[1] == {8443: [first.pk]}


def test_a_port_of_a_site_not_in_the_file_names_no_missing_set():
    assert "chain" not in render_nft({1: []}, {2: 8443}).decode()


def test_the_parser_refuses_a_chain_kluis_does_not_write(personas, firewall_dir):
    site = make_site(personas.customer_a)
    _port(site, 8443)
    firewall_export()
    good = (firewall_dir / NFT_FILE).read_text()
    for bad in (
        good.replace("\t\ttcp dport 8443 drop\n", ""),  # no drop
        good.replace(f"@site_{site.pk}_v4", "@site_999_v4"),  # a set that is not there
        good.replace("8443", "443"),
        good.replace("policy accept", "policy drop"),
    ):
        with pytest.raises(ParseError):
            parse_nft_ruleset(bad)


# --- the database ----------------------------------------------------------------------


def test_the_database_refuses_a_shared_or_taken_port(personas):
    first, second = make_site(personas.customer_a), make_site(personas.customer_b)
    _port(first, 8443)
    for port in (443, 80, 0, 70000):
        with pytest.raises(IntegrityError), transaction.atomic():
            _port(second, port)
    with pytest.raises(IntegrityError), transaction.atomic():
        _port(second, 8443)
    site_set_status(first, Site.Status.ENDED, actor="test")
    _port(second, 8443)  # an ended site's port is free
    assert list(Site.objects.filter(admin_port=8443)) == [second]
    # An ended site holds no port at all.
    with pytest.raises(IntegrityError), transaction.atomic():
        _port(first, 8444)


# --- the sites desk ----------------------------------------------------------------------


def test_orders_staff_set_the_port_on_the_desk_audited_and_exported(client, personas):
    site = make_site(personas.customer_a)
    log_in(client, personas.staff["orders"])
    page = client.get(_site_url(site, "sites_backoffice:site")).content.decode()
    assert _site_url(site) in page and 'name="admin_port"' in page
    response = client.post(_site_url(site), {"admin_port": "8443"})
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.admin_port == 8443
    [audit] = AuditEntry.objects.filter(action="sites.site_admin_port")
    assert json.loads(audit.payload)["data"] == {"site": site.pk, "from": None, "to": 8443}
    assert audit.subject == site.customer_id
    assert FirewallExportRequest.objects.filter(site=site).count() == 1
    page = client.get(_site_url(site, "sites_backoffice:site")).content.decode()
    assert 'value="8443"' in page and "poort 8443 alleen open" in page
    desk = client.get(reverse("sites_backoffice:desk")).content.decode()
    assert "<td>8443</td>" in desk
    # Cleared: the port leaves, audited, and the firewall is asked again.
    assert client.post(_site_url(site), {"admin_port": ""}).status_code == 302
    assert Site.objects.get(pk=site.pk).admin_port is None
    assert FirewallExportRequest.objects.filter(site=site).count() == 2
    assert AuditEntry.objects.filter(action="sites.site_admin_port").count() == 2


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("443", "Poort 443 delen alle sites"),
        ("80", "Poort 80 delen alle sites"),
        ("0", "Een poort is een getal van 1 tot en met 65535."),
        ("65536", "Een poort is een getal van 1 tot en met 65535."),
        ("-1", "Een poort is een getal van 1 tot en met 65535."),
        ("8443x", "Een poort is een getal van 1 tot en met 65535."),
    ],
)
def test_a_bad_port_gets_a_dutch_message_and_changes_nothing(client, personas, typed, message):
    site = make_site(personas.customer_a)
    _port(site, 2222)
    log_in(client, personas.staff["orders"])
    response = client.post(_site_url(site), {"admin_port": typed})
    assert response.status_code == 200
    assert message in response.content.decode()
    site.refresh_from_db()
    assert site.admin_port == 2222
    assert not FirewallExportRequest.objects.exists()
    assert not AuditEntry.objects.filter(action="sites.site_admin_port").exists()


def test_a_port_of_another_live_site_is_refused(client, personas):
    other = make_site(personas.customer_b)
    _port(other, 8443)
    site = make_site(personas.customer_a)
    log_in(client, personas.staff["orders"])
    response = client.post(_site_url(site), {"admin_port": "8443"})
    assert response.status_code == 200
    expected = f"Poort 8443 is al de poort van de beheeromgeving van site {other.pk}."
    assert expected in response.content.decode()
    site.refresh_from_db()
    assert site.admin_port is None


def test_a_port_taken_in_the_meantime_gets_a_message_not_a_500(client, personas, monkeypatch):
    other = make_site(personas.customer_b)
    _port(other, 8443)
    site = make_site(personas.customer_a)
    # As if the other site got the port between the form's check and the save.
    monkeypatch.setattr(SitePortForm, "clean_admin_port", lambda self: 8443)
    log_in(client, personas.staff["orders"])
    response = client.post(_site_url(site), {"admin_port": "8443"})
    assert response.status_code == 200
    assert "Poort 8443 is net aan een andere site gegeven" in response.content.decode()
    site.refresh_from_db()
    assert site.admin_port is None
    assert not FirewallExportRequest.objects.exists()
    assert not AuditEntry.objects.filter(action="sites.site_admin_port").exists()


def test_only_orders_staff_set_the_port(client, personas):
    site = make_site(personas.customer_a)
    for role in ("support", "finance"):
        log_in(client, personas.staff[role])
        assert client.post(_site_url(site), {"admin_port": "8443"}).status_code == 403
    site.refresh_from_db()
    assert site.admin_port is None
