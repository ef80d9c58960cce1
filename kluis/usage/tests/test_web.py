"""nginx logs into per-site, per-day counts: formats, rotation, replays, bad lines."""

from __future__ import annotations

import datetime as dt
import gzip
import os

import pytest

from kluis.usage.ingest import Source, ingest_batch, ingest_sources
from kluis.usage.models import DaySecret, IngestBatch, LogFile, PageDay, SiteDay
from kluis.usage.nginx import COMBINED, truncate_v6

from .lines import combined, kluis_json

pytestmark = pytest.mark.django_db(databases="__all__")


def _write(path, lines, mode="w"):
    with open(path, mode) as f:
        f.write("".join(lines))


def test_files_follow_rotation_count_once_and_skip_bad_lines(shop, today, tmp_path):
    log = tmp_path / "shop.log"
    source = Source("nginx", f"{log}*", host="shop.example.nl")
    # Six visitors on /popular (one with a query string), one on /account/jan-jansen.
    visitors = [f"145.100.{i}.7" for i in range(1, 7)]
    older = [combined(today, a, "/popular", size=100) for a in visitors]
    older.append(combined(today, "145.100.1.7", "/popular?token=geheim", size=100))
    with gzip.open(f"{log}.2.gz", "wt") as f:
        f.write("".join(older))
    rotated = [
        combined(today, "145.100.9.1", "/account/jan-jansen", status=200, size=1000),
        combined(today, "2a02:a45:1:2::3", "/", status=404, size=10),
        "\x00\x01\x02 garbage \xff\n",
        combined(today, "145.100.9.1", "/x" * 600_000),  # a 1 MB line
        combined(today, "fe80::1%eth0", "/"),  # a zone id
        combined(today, "145.100.9.2", "/", ua="evil\x00agent"),
        combined(today, "145.100.9.3", "/", status=500, size=0),
    ]
    _write(f"{log}.1", rotated)
    live = [kluis_json(today, "145.100.9.4", "/", status=301, size=0, ua='a "quoted" agent')]
    _write(log, live)
    partial = combined(today, "145.100.9.5", "/late")
    _write(log, [partial[:30]], "a")  # nginx is still writing this line
    # A compressed file that ends early, with two whole lines before the break.
    yesterday = today - dt.timedelta(days=1)
    whole = gzip.compress("".join(combined(yesterday, f"145.1.{i}.1") for i in range(200)).encode())
    (tmp_path / "shop.log.3.gz").write_bytes(whole[: len(whole) // 2])

    report = ingest_sources([source], node="n1", today=today)

    day = SiteDay.objects.get(site=shop, day=today)
    assert day.requests == 7 + 3 + 1
    assert day.bytes == 700 + 1000 + 10 + 0 + 0
    assert (day.status_2xx, day.status_3xx, day.status_4xx, day.status_5xx) == (8, 1, 1, 1)
    bad_rotated = LogFile.objects.get(path=f"{log}.1").bad
    assert bad_rotated == 4  # garbage, 1 MB, zone id, NUL
    broken = LogFile.objects.get(path=f"{log}.3.gz")
    assert broken.finished and broken.bad == 1 and 0 < broken.lines < 200
    assert SiteDay.objects.get(site=shop, day=yesterday).requests == broken.lines
    assert report.bad == 5
    first = (day.requests, day.bytes, day.visitors)

    # Again: nothing new. Then rotate: .1 is compressed, the live file becomes .1 with
    # its last line finished, a new live file starts.
    ingest_sources([source], node="n1", today=today)
    assert SiteDay.objects.get(pk=day.pk).requests == first[0]
    with open(f"{log}.1", "rb") as src, gzip.open(f"{log}.2.gz", "wb") as dst:
        dst.write(src.read())  # .2.gz was compressed already: same identity, finished
    os.remove(f"{log}.1")
    _write(log, [partial[30:]], "a")
    os.rename(log, f"{log}.1")
    _write(log, [combined(today, "145.100.9.6", "/new", size=7)])
    ingest_sources([source], node="n1", today=today)
    after = SiteDay.objects.get(pk=day.pk)
    assert after.requests == first[0] + 2
    assert after.bytes == first[1] + 512 + 7

    # Query strings are dropped; a path is kept only with 5 distinct visitors.
    # Until then a path is only its salted key, its text unknown.
    pages = {p.path: p for p in PageDay.objects.filter(site=shop, day=today)}
    assert pages["/popular"].qualified and pages["/popular"].requests == 7
    assert pages[""].requests == 1 and not pages[""].qualified  # /account/jan-jansen
    assert not any("?" in p or "jansen" in p for p in pages)

    # The day closes: visitors final, pages under 5 visitors and the salt gone.
    ingest_sources([source], node="n1", today=today + dt.timedelta(days=2))
    closed = SiteDay.objects.get(pk=day.pk)
    assert closed.closed and closed.sketch is None
    # /popular's six; then per /24 and user agent: 145.100.9 with Firefox (four lines),
    # 145.100.9 with the quoted agent, 2a02:a45:1::/48 with Firefox.
    assert closed.visitors == 6 + 3
    assert set(PageDay.objects.filter(site=shop, day=today).values_list("path", flat=True)) == {
        "/popular"
    }
    assert not DaySecret.objects.filter(day=today).exists()


def test_the_regex_captures_only_the_24_of_an_ipv4_address(today):
    m = COMBINED.match(combined(today, "145.100.9.201", "/a").encode())
    assert m is not None and m.group("net") == b"145.100.9" and m.group("addr") is None
    assert not any(g and b"145.100.9.201" in g for g in m.groups())
    v6 = COMBINED.match(combined(today, "2a02:a45:1:2::3", "/a").encode())
    assert v6 is not None and v6.group("net") is None
    assert v6.group("addr") == b"2a02:a45:1:2::3"  # truncated to its /48 next
    assert COMBINED.match(combined(today, "12345678", "/a").encode()).group("net") is None


def test_addresses_are_truncated_to_24_and_48():
    assert truncate_v6(b"2a02:a45:1:2::3") == b"2a02:a45:1::/48"
    assert truncate_v6(b"::ffff:145.100.9.7") == b"145.100.9"
    assert truncate_v6(b"fe80::1%eth0") is None


def test_a_batch_counts_once_and_a_replay_nothing(shop, today):
    lines = [
        kluis_json(today, "145.100.3.4", "/a"),
        kluis_json(today, "::1", "/b", host="www.shop.example.nl"),
        kluis_json(today, "145.100.3.5", "/c", host="elders.example"),
        "not a log line",
        combined(today, "145.100.3.6", "/d", host="shop.example.nl"),
    ]
    first = ingest_batch(node="n1", kind="nginx", batch_id="b-1", lines=lines)
    assert (first.accepted, first.skipped, first.replayed) == (3, 2, False)
    again = ingest_batch(node="n1", kind="nginx", batch_id="b-1", lines=lines)
    assert again.replayed and again.accepted == 0
    assert SiteDay.objects.get(site=shop, day=today).requests == 3
    assert IngestBatch.objects.get(batch_id="b-1").accepted == 3
    other = ingest_batch(node="n2", kind="nginx", batch_id="b-1", lines=lines[:1])
    assert other.accepted == 1 and not other.replayed
