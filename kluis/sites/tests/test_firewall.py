"""The allowlists as the firewall reads them: nftables sets and nginx includes."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import shutil
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.sites import firewall
from kluis.sites.firewall import NFT_FILE, firewall_export
from kluis.sites.models import AllowEntry, FirewallExport, Site
from kluis.sites.services import entry_add
from kluis.sites.shop_link import site_set_status
from kluis.sites.testing import make_entry, make_grant, make_site
from kluis.sites.tests.parsers import ParseError, parse_nft, parse_nginx

pytestmark = pytest.mark.django_db(databases="__all__")


def _net(text):
    return ipaddress.ip_network(text)


def _files(root, site):
    sets = parse_nft((root / NFT_FILE).read_text())
    nginx = parse_nginx((root / "nginx" / f"site-{site.pk}.conf").read_text())
    return sets[f"site_{site.pk}_v4"] + sets[f"site_{site.pk}_v6"], nginx


def test_an_entry_reaches_both_files_and_the_parsers_accept_them(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.7")
    make_entry(site, personas.alice, "2a00:1450:4000::/48")
    other = make_site(personas.customer_b)
    outcome = firewall_export()
    assert outcome.ok and outcome.written == 3
    nft, nginx = _files(firewall_dir, site)
    assert nft == [_net("145.100.10.7/32"), _net("2a00:1450:4000::/48")]
    assert nginx == nft
    assert _files(firewall_dir, other) == ([], [])  # deny all for a site with no entries


def test_overlapping_entries_are_merged_so_that_nft_accepts_the_set(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.7")
    make_entry(site, personas.alice, "145.100.10.0/24")
    firewall_export()
    assert _files(firewall_dir, site)[0] == [_net("145.100.10.0/24")]


def test_an_unchanged_export_writes_nothing_and_keeps_the_bytes(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    firewall_export()
    before = (firewall_dir / NFT_FILE).read_bytes()
    mtime = (firewall_dir / NFT_FILE).stat().st_mtime_ns
    again = firewall_export()
    assert again.written == 0
    assert (firewall_dir / NFT_FILE).read_bytes() == before
    assert (firewall_dir / NFT_FILE).stat().st_mtime_ns == mtime
    assert not list(firewall_dir.rglob(".*.tmp"))


def test_every_export_is_audited_and_recorded_without_addresses(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.7")
    firewall_export()
    firewall_export()
    entries = AuditEntry.objects.filter(action="sites.firewall_exported")
    assert entries.count() == 2
    assert FirewallExport.objects.count() == 2
    for entry in entries:
        assert "145.100.10.7" not in str(entry.payload)
    assert "145.100.10.7" not in str(
        list(
            AuditEntry.objects.filter(action="sites.allow_added").values_list("payload", flat=True)
        )
    )


def test_an_expired_entry_drops_out_by_itself(personas, firewall_dir):
    site = make_site(personas.customer_a)
    soon = timezone.now() + dt.timedelta(hours=1)
    entry_add(site=site, text="145.100.10.7", label="", expires_at=soon, by=personas.alice)
    firewall_export()
    assert _files(firewall_dir, site)[0] == [_net("145.100.10.7/32")]
    firewall_export(now=soon + dt.timedelta(seconds=1))
    assert _files(firewall_dir, site) == ([], [])


def test_a_suspended_site_exports_an_empty_set(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    site_set_status(site, Site.Status.SUSPENDED, actor="system:test")
    firewall_export()
    assert _files(firewall_dir, site) == ([], [])


def test_a_grant_adds_the_staff_address_until_the_customer_ends_it(personas, firewall_dir):
    from kluis.sites.services import grant_end

    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.7")
    grant = make_grant(site, personas.staff["support"], "145.100.20.9")
    firewall_export()
    assert _net("145.100.20.9/32") in _files(firewall_dir, site)[0]
    grant_end(grant=grant, by=personas.alice)
    firewall_export()
    assert _files(firewall_dir, site)[0] == [_net("145.100.10.7/32")]


def test_a_grant_leaves_the_files_when_its_time_is_up(personas, firewall_dir):
    site = make_site(personas.customer_a)
    grant = make_grant(site, personas.staff["support"], "145.100.20.9")
    firewall_export(now=grant.ends_at - dt.timedelta(minutes=1))
    assert _files(firewall_dir, site)[0] == [_net("145.100.20.9/32")]
    firewall_export(now=grant.ends_at)
    assert _files(firewall_dir, site)[0] == []


def test_a_failing_reload_command_is_recorded_and_the_files_stay_good(
    personas, firewall_dir, settings
):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    settings.KLUIS_FIREWALL_RELOAD = "false"
    outcome = firewall_export()
    assert not outcome.ok and outcome.reload == "reload failed: exit 1"
    assert FirewallExport.objects.first().ok is False
    parse_nft((firewall_dir / NFT_FILE).read_text())
    settings.KLUIS_FIREWALL_RELOAD = "true"
    make_entry(site, personas.alice, "145.100.11.1")
    assert firewall_export().reload == "reload ok"


def test_bad_input_leaves_the_last_good_file(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    firewall_export()
    before = (firewall_dir / NFT_FILE).read_bytes()
    for bad in ("0.0.0.0/0", "::/0", "10.0.0.0/8", "256.1.1.1", "1.2.3.4/33", "fe80::1%eth0"):
        with pytest.raises(ValidationError):
            make_entry(site, personas.alice, bad)
    firewall_export()
    assert (firewall_dir / NFT_FILE).read_bytes() == before


def test_the_parsers_are_strict():
    with pytest.raises(ParseError):
        parse_nginx("# x\nallow 10.0.0.1;\n")  # no deny all
    with pytest.raises(ParseError):
        parse_nginx("# x\nallow all;\ndeny all;\n")
    with pytest.raises(ValueError):
        parse_nginx("# x\nallow 10.0.0.1/8;\ndeny all;\n")  # host bits
    good = (
        "# x\ntable inet kluis_admin\ndelete table inet kluis_admin\n\ntable inet kluis_admin {\n"
        "\tset site_1_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
        "\t\telements = { 145.100.10.0/24, 145.100.10.7 }\n\t}\n}\n"
    )
    with pytest.raises(ParseError, match="overlaps"):
        parse_nft(good)
    with pytest.raises(ParseError):
        parse_nft(good.replace("flags interval", "flags constant"))


# nft -c -f, and the ruleset loaded in network namespaces: test_nftables.py.


NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed here")
def test_nginx_accepts_the_include(personas, firewall_dir, tmp_path):  # pragma: no cover
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    firewall_export()
    conf = tmp_path / "nginx.conf"
    include = firewall_dir / "nginx" / f"site-{site.pk}.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
        "http { server { listen 127.0.0.1:18080;\n"
        f"location /beheer/ {{ include {include}; }} }} }}\n"
    )
    done = subprocess.run([str(NGINX), "-t", "-c", str(conf)], check=False)
    assert done.returncode == 0


def test_a_deleted_file_is_written_again_at_the_next_export(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    firewall_export()
    include = firewall_dir / "nginx" / f"site-{site.pk}.conf"
    before = include.read_bytes()
    include.unlink()
    assert firewall_export().written == 1
    assert include.read_bytes() == before


def test_a_no_change_export_opens_no_sealed_value(personas, firewall_dir):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    before = AuditEntry.objects.filter(action="vault.reveal").count()
    firewall_export()
    reveals = AuditEntry.objects.filter(action="vault.reveal").count()
    assert reveals > before  # the first export opened the address
    firewall_export()
    assert AuditEntry.objects.filter(action="vault.reveal").count() == reveals


def test_an_export_killed_between_renames_leaves_whole_files_and_is_repaired(
    personas, firewall_dir, monkeypatch
):
    import os

    first = make_site(personas.customer_a)
    second = make_site(personas.customer_b)
    make_entry(first, personas.alice, "145.100.10.7")
    firewall_export()
    make_entry(first, personas.alice, "145.100.10.8")
    make_entry(second, personas.bob, "145.100.30.1")
    real_replace = os.replace
    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        firewall_export()
    monkeypatch.setattr(os, "replace", real_replace)
    assert not list(firewall_dir.rglob(".*.tmp"))
    # Each file is its old or its new self, never a part of one.
    parse_nft((firewall_dir / NFT_FILE).read_text())
    for include in (firewall_dir / "nginx").glob("*.conf"):
        parse_nginx(include.read_text())
    firewall_export()
    assert _files(firewall_dir, first)[0] == [_net("145.100.10.7/32"), _net("145.100.10.8/32")]
    assert _files(firewall_dir, second)[0] == [_net("145.100.30.1/32")]


def test_the_job_exports_and_deletes_what_expired(personas, firewall_dir):
    from kluis.sites.jobs import sites_firewall_export
    from kluis.sites.models import AllowEntry

    site = make_site(personas.customer_a)
    entry = make_entry(site, personas.alice)
    AllowEntry.objects.filter(pk=entry.pk).update(expires_at=timezone.now())
    outcome = sites_firewall_export()
    assert "1 expired entries deleted" in outcome
    assert not AllowEntry.objects.exists()
    assert _files(firewall_dir, site) == ([], [])


def test_after_a_killed_export_a_return_to_the_old_state_is_written(
    personas, firewall_dir, monkeypatch
):
    import os

    from kluis.sites.services import entry_remove

    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.7")
    firewall_export()
    before = _files(firewall_dir, site)
    added = make_entry(site, personas.alice, "145.100.10.8")
    real_replace = os.replace
    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the ruleset is replaced, the include not yet
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        firewall_export()
    monkeypatch.setattr(os, "replace", real_replace)
    entry_remove(entry=added, by=personas.alice)
    firewall_export()
    assert _files(firewall_dir, site) == before


def test_a_change_asks_the_worker_which_writes_the_files_once(
    personas, firewall_dir, client, django_capture_on_commit_callbacks, monkeypatch
):
    """The portal's change writes no file; the worker's queue does, and a write that
    fails leaves the request waiting for the next pass."""
    from django.conf import settings
    from django.urls import reverse

    from kluis.jobs.registry import queues_run
    from kluis.sites.models import FirewallExportRequest
    from kluis.testing import log_in

    site = make_site(personas.customer_a)
    log_in(client, personas.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("sites_portal:entry-add", args=[site.pk]),
            {"network": "145.100.10.7", "label": "thuis"},
        )
    assert response.status_code == 302, response.content.decode()[:500]
    assert not (firewall_dir / NFT_FILE).exists()  # nothing written in the request
    assert FirewallExportRequest.objects.count() == 1

    blocked = firewall_dir.parent / "not-a-directory"
    blocked.write_text("x")
    monkeypatch.setattr(settings, "KLUIS_FIREWALL_DIR", blocked / "firewall")
    assert queues_run() == 0
    [waiting] = FirewallExportRequest.objects.all()
    assert waiting.claimed_at is None and waiting.claim == ""  # let go, for the next pass
    assert not FirewallExport.objects.latest("at", "id").ok

    monkeypatch.setattr(settings, "KLUIS_FIREWALL_DIR", firewall_dir)
    with monkeypatch.context() as broken:  # not a write failure: let go all the same
        broken.setattr(firewall, "firewall_export", _raise_runtime_error)
        broken.setattr(firewall, "firewall_export_sites", _raise_runtime_error)
        assert firewall.export_requests_handle() == 0
    [waiting] = FirewallExportRequest.objects.all()
    assert waiting.claimed_at is None and waiting.claim == ""
    assert "RuntimeError" in FirewallExport.objects.latest("at", "id").message
    assert queues_run() == 1
    assert _files(firewall_dir, site)[0] == [_net("145.100.10.7/32")]
    assert not FirewallExportRequest.objects.exists()
    assert queues_run() == 0  # handled once


def _raise_runtime_error(*args: object, **kwargs: object) -> None:
    raise RuntimeError("database gone")


def test_a_change_to_one_site_opens_and_writes_only_that_site(personas, firewall_dir, monkeypatch):
    """The queue exports the changed site alone (the other sets come from the last
    ruleset), with the very bytes a whole export then writes; a ruleset it cannot
    vouch for makes it export everything."""
    import kluis.sites.firewall as firewall
    from kluis.sites.firewall import export_requests_handle, firewall_export_sites

    first, second = make_site(personas.customer_a), make_site(personas.customer_b)
    make_entry(first, personas.alice, "145.100.10.7")
    make_entry(second, personas.bob, "2a00:1450:4000::/48")
    assert export_requests_handle() == 2  # no files yet: a whole export
    make_entry(first, personas.alice, "145.100.10.0/24")  # overlaps: merged
    opened: list[int] = []
    from kluis.vault.reveal import reveal_many as real_reveal

    def counting_reveal(rows, *args, **kwargs):
        opened.extend(row.site_id for row in rows)
        return real_reveal(rows, *args, **kwargs)

    monkeypatch.setattr(firewall, "reveal_many", counting_reveal)
    assert export_requests_handle() == 1
    assert set(opened) == {first.pk}
    assert _files(firewall_dir, first)[0] == [_net("145.100.10.0/24")]
    assert _files(firewall_dir, second)[0] == [_net("2a00:1450:4000::/48")]
    before = {p: p.read_bytes() for p in firewall_dir.rglob("*.conf")}
    before[firewall_dir / NFT_FILE] = (firewall_dir / NFT_FILE).read_bytes()
    assert firewall_export().written == 0  # the whole export agrees to the byte
    assert all(p.read_bytes() == b for p, b in before.items())

    (firewall_dir / NFT_FILE).write_text("# changed by hand\n")
    opened.clear()
    firewall_export_sites({first.pk})
    assert set(opened) == {first.pk, second.pk}  # could not vouch: everything
    assert (firewall_dir / NFT_FILE).read_bytes() == before[firewall_dir / NFT_FILE]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_the_files_are_readable_by_nginx_and_nft_whatever_the_umask(personas, firewall_dir, umask):
    import os

    site = make_site(personas.customer_a)
    make_entry(site, personas.alice)
    before = os.umask(umask)
    try:
        firewall_export()
    finally:
        os.umask(before)
    for path in (firewall_dir / NFT_FILE, firewall_dir / "nginx" / f"site-{site.pk}.conf"):
        assert path.stat().st_mode & 0o777 == 0o644


def test_a_sites_elements_are_in_address_order_ipv4_first(personas, firewall_dir):
    """Numerically, not as text (145.100.10.9 before 145.100.10.10), IPv4 before IPv6,
    whether the site has IPv4 addresses only or both families."""
    only_v4, both = make_site(personas.customer_a), make_site(personas.customer_a)
    for text in ("145.100.10.10", "145.100.10.9", "9.1.1.1"):
        make_entry(only_v4, personas.alice, text)
    for text in ("2a00:1450::10", "145.100.10.10", "2a00:1450::9", "145.100.10.9"):
        make_entry(both, personas.alice, text)
    state = firewall.current_state()
    assert state[only_v4.pk] == ["9.1.1.1", "145.100.10.9", "145.100.10.10"]
    assert state[both.pk] == ["145.100.10.9", "145.100.10.10", "2a00:1450::9", "2a00:1450::10"]


def test_the_inputs_digest_is_that_of_the_ids_in_the_databases_order(personas, monkeypatch):
    """SQLite's ids are read in table order and sorted in Python: the digest is still
    that of the rows as ORDER BY gives them, part by part (the manifests of exports
    before keep matching)."""
    site = make_site(personas.customer_a)
    for n in range(7):
        make_entry(site, personas.alice, f"145.100.10.{n + 1}")
    monkeypatch.setattr(firewall, "DIGEST_PART", 3)
    digest = hashlib.sha256()
    sites = Site.objects.order_by("pk").values_list("pk", "status", "admin_port")
    ids = AllowEntry.objects.current().order_by("pk").values_list("pk")
    for queryset in (sites, ids):
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(3):
                digest.update(repr(rows).encode())
        digest.update(b"|")
    assert firewall.inputs_digest() == digest.hexdigest()
