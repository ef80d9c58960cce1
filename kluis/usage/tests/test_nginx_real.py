"""Debian's nginx on loopback writes the documented log format; kluis reads what it wrote."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest
from django.conf import settings

from kluis.tests.nginx import free_port, nginx_or_skip, nginx_running, preamble
from kluis.usage.ingest import Source, ingest_sources
from kluis.usage.models import LogFile, SiteDay

from .privacy import found_anywhere

pytestmark = pytest.mark.django_db(databases="__all__")

LOG_FORMAT = Path(settings.BASE_DIR) / "deploy" / "nginx-usage-log.conf"
ODD_AGENTS = [
    'Zebra "quoted" \\ backslash/1.0',
    "Zebra\x01control/2.0",
    "Zebra-ünïcode/3.0",
]


def _get(family: str, port: int, path: str, agent: str) -> int:
    conn = http.client.HTTPConnection(family, port, timeout=10)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", "Shop.Example.NL")
    conn.putheader("User-Agent", agent.encode("utf-8").decode("latin-1"))
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    return status


def test_nginx_writes_what_kluis_reads(shop, today, tmp_path):
    nginx_or_skip()
    port = free_port()
    (tmp_path / "nginx.conf").write_text(
        preamble(tmp_path) + "http {\n"
        f"  include {LOG_FORMAT};\n"
        f"  access_log {tmp_path}/sites.log kluis;\n"
        f"  access_log {tmp_path}/combined.log combined;\n"
        "  large_client_header_buffers 4 16k;\n"
        f"  server {{ listen 127.0.0.1:{port}; listen [::1]:{port};\n"
        "    location / { return 200 'ok'; }\n"
        "    location /weg { return 404; } }\n}\n"
    )
    with nginx_running(tmp_path, port):
        long_query = "?q=" + "geheimezoekvraag" * 500
        statuses = [
            _get("127.0.0.1", port, "/", ODD_AGENTS[0]),
            _get("127.0.0.1", port, "/zoek" + long_query, ODD_AGENTS[1]),
            _get("::1", port, "/", ODD_AGENTS[2]),
            _get("::1", port, "/weg?x=1", ODD_AGENTS[2]),
        ]
        assert statuses == [200, 200, 200, 404]

    report = ingest_sources(
        [Source("nginx", str(tmp_path / "sites.log"))], node="loopback", today=today
    )
    assert report.lines == 4 and report.bad == 0 and report.unmatched == 0
    day = SiteDay.objects.get(site=shop, day=today)
    assert (day.requests, day.status_2xx, day.status_4xx) == (4, 3, 1)
    # 127.0.0/24 with two agents, ::/48 with one.
    assert day.visitors == 3
    # nginx's own combined format, with the file's host given.
    combined = ingest_sources(
        [Source("nginx", str(tmp_path / "combined.log"), host="shop.example.nl")],
        node="loopback",
        today=today,
    )
    assert combined.lines == 4 and combined.bad == 0
    assert SiteDay.objects.get(pk=day.pk).requests == 8
    assert LogFile.objects.filter(node="loopback").count() == 2
    assert found_anywhere(["127.0.0.1", "geheimezoekvraag", "Zebra", "x=1"]) == []
