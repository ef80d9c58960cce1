"""Debian's nginx guards a site's admin location with the include kluis writes.

Over loopback the connecting address is 127.0.0.1, which no allowlist may hold. So these
tests put the client's address in X-Forwarded-For, which nginx believes only from a
proxy it is told to trust (`set_real_ip_from`, as deploy/nginx-hosted-site.conf describes
for a hosting node behind a load balancer of our own). The same header sent to a server
that trusts no proxy changes nothing: there the connecting address counts.

The reload is kluis's own: the export runs `KLUIS_FIREWALL_RELOAD`, here a SIGHUP to
this nginx, so an address that leaves the list is refused by the running server.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import pytest

from kluis.sites.firewall import firewall_export
from kluis.sites.models import FirewallExport, Site
from kluis.sites.services import entry_remove
from kluis.sites.testing import make_entry, make_site
from kluis.tests.nginx import free_port, nginx_or_skip, nginx_running, preamble

pytestmark = pytest.mark.django_db(databases="__all__")

ALLOWED_V4 = "145.100.10.7"
ALLOWED_V6_NET = "2a00:1450:4000::/48"


def _status(port: int, path: str, forwarded_for: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": "winkel.example.nl"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    conn.request("GET", path, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


class Nginx:
    def __init__(self, trusted: int, untrusted: int) -> None:
        self.trusted = trusted
        self.untrusted = untrusted

    def until(self, port: int, path: str, forwarded_for: str | None, status: int) -> int:
        """The status once it is `status`, or the last one seen after 10 s (a reload)."""
        deadline = time.monotonic() + 10
        seen = _status(port, path, forwarded_for)
        while seen != status and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = _status(port, path, forwarded_for)
        return seen


@pytest.fixture
def nginx_admin(tmp_path, firewall_dir, settings, personas) -> Iterator[tuple[Nginx, int]]:
    nginx_or_skip()
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, ALLOWED_V4)
    firewall_export()  # nginx refuses to start while the include is missing
    www = tmp_path / "www"
    (www / "beheer").mkdir(parents=True)
    (www / "beheer" / "index.html").write_text("beheer\n")
    (www / "index.html").write_text("winkel\n")
    include = firewall_dir / "nginx" / f"site-{site.pk}.conf"
    trusted, untrusted = free_port(), free_port()
    # The admin location serves content (as proxy_pass does in the deploy file); a
    # `return` would answer before nginx's access phase and skip the allowlist.
    locations = (
        f"    root {www};\n    location /beheer/ {{ include {include}; }}\n    location / {{ }}\n"
    )
    (tmp_path / "nginx.conf").write_text(
        preamble(tmp_path) + "http {\n  access_log off;\n"
        f"  server {{ listen 127.0.0.1:{trusted};\n"
        "    set_real_ip_from 127.0.0.1;\n    real_ip_header X-Forwarded-For;\n"
        + locations
        + "  }\n"
        f"  server {{ listen 127.0.0.1:{untrusted};\n" + locations + "  }\n}\n"
    )
    with nginx_running(tmp_path, untrusted) as proc:
        settings.KLUIS_FIREWALL_RELOAD = f"/bin/kill -HUP {proc.pid}"
        yield Nginx(trusted, untrusted), site.pk


def test_behind_a_trusted_proxy_only_a_listed_address_reaches_the_admin(nginx_admin):
    server, _site = nginx_admin
    port = server.trusted
    assert _status(port, "/beheer/", ALLOWED_V4) == 200
    assert _status(port, "/beheer/", "145.100.10.8") == 403
    assert _status(port, "/beheer/", "2a00:1450:4000::1") == 403
    assert _status(port, "/beheer/") == 403  # 127.0.0.1 itself is on no list
    assert _status(port, "/", "145.100.10.8") == 200  # the shop itself stays open


def test_without_a_trusted_proxy_the_header_changes_nothing(nginx_admin):
    server, _site = nginx_admin
    assert _status(server.trusted, "/beheer/", ALLOWED_V4) == 200  # the same request, trusted
    assert _status(server.untrusted, "/beheer/", ALLOWED_V4) == 403
    assert _status(server.untrusted, "/beheer/") == 403
    assert _status(server.untrusted, "/", ALLOWED_V4) == 200


def test_an_added_range_and_a_removed_address_reach_the_running_nginx(nginx_admin, personas):
    server, site_id = nginx_admin
    port = server.trusted
    site = Site.objects.get(pk=site_id)
    added = make_entry(site, personas.alice, ALLOWED_V6_NET)
    firewall_export()
    assert FirewallExport.objects.latest("pk").reload_outcome == "reload ok"
    assert server.until(port, "/beheer/", "2a00:1450:4000:ffff::9", 200) == 200
    assert _status(port, "/beheer/", "2a00:1450:4001::9") == 403  # outside the /48

    original = site.allow_entries.exclude(pk=added.pk).get()
    entry_remove(entry=original, by=personas.alice)
    firewall_export()
    assert server.until(port, "/beheer/", ALLOWED_V4, 403) == 403
    assert _status(port, "/beheer/", "2a00:1450:4000:ffff::9") == 200
