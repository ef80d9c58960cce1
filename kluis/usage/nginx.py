"""Parsing nginx access-log lines into per-site, per-day counts.

Two formats: nginx's `combined` (the site comes from the file's configured host, or
from an optional `"$host"` field after the user agent) and the JSON `log_format
kluis` documented in README "Usage statistics". A line is matched by one compiled
regex; the address is truncated (/24, /48) straight from the match, before any other
code sees it, and the full address is never kept. The user agent and the truncated
address feed a keyed hash under the day's salt, and only that hash goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kluis.usage import hll

MAX_LINE = 16 * 1024  # longer lines are counted as bad, not parsed
PAGE_VISITORS = 5  # a path is kept once this many distinct visitors asked for it
MAX_PAGES = 2000  # paths followed per site per day (scanners make endless new ones)
MAX_PATH = 300

COMBINED = re.compile(
    rb"(?P<addr>[0-9.]{7,15}|[0-9A-Fa-f:.]{2,45}) \S+ \S+ "
    rb"\[(?P<day>\d\d/[A-Z][a-z]{2}/\d{4}):[^\]]*\] "
    rb'"(?:[A-Z]{1,16} (?P<path>/[^ ?"]*)[^ "]*(?: HTTP/[0-9.]+)?|[^"]*)" '
    rb'(?P<status>[1-5]\d\d) (?P<bytes>\d+|-) "[^"]*" "(?P<ua>[^"]*)"'
    rb'(?: "(?P<host>[^" ]*)")?\r?\n?\Z'
)

# log_format kluis escape=json (README "Usage statistics"): fixed key order.
JSON = re.compile(
    rb'\{"time":"(?P<day>\d{4}-\d\d-\d\d)T[^"]*",'
    rb'"host":"(?P<host>[^"\\]*)",'
    rb'"addr":"(?P<addr>[0-9A-Fa-f:.]{2,45})",'
    rb'"request":"(?:[A-Z]{1,16} (?P<path>/[^ ?"\\]*)(?:[^ "\\]|\\.)*(?: HTTP/[0-9.]+)?'
    rb'|(?:[^"\\]|\\.)*)",'
    rb'"status":(?P<status>[1-5]\d\d),'
    rb'"bytes":(?P<bytes>\d+),'
    rb'"ua":"(?P<ua>(?:[^"\\]|\\.)*)"\}\r?\n?\Z'
)

MONTHS = {
    m.encode(): i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def truncate_v6(addr: bytes) -> bytes | None:
    """The /48 of an IPv6 address as text, or None when it is not one (a zone id, junk)."""
    if b"%" in addr:
        return None  # a zone id: a link-local address, never a visitor
    try:
        ip = ipaddress.IPv6Address(addr.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    if ip.ipv4_mapped is not None:
        v4 = str(ip.ipv4_mapped)
        return v4[: v4.rindex(".")].encode()
    return str(ipaddress.IPv6Network((int(ip) >> 80 << 80, 48))).encode()


def _day_combined(key: bytes) -> dt.date | None:
    month = MONTHS.get(key[3:6])
    try:
        return dt.date(int(key[7:11]), month, int(key[0:2])) if month else None
    except ValueError:
        return None


def _day_iso(key: bytes) -> dt.date | None:
    try:
        return dt.date.fromisoformat(key.decode())
    except ValueError:
        return None


@dataclass
class WebTally:
    """What a chunk of lines adds: counters, sketches and page marks, by site and day."""

    # (site, day) -> [requests, bytes, 1xx, 2xx, 3xx, 4xx, 5xx]
    days: dict[tuple[int, dt.date], list[int]] = field(default_factory=dict)
    sketches: dict[tuple[int, dt.date], bytearray] = field(default_factory=dict)
    # (site, day, path) -> [requests, set of visitor hashes (at most PAGE_VISITORS)]
    pages: dict[tuple[int, dt.date, bytes], list[object]] = field(default_factory=dict)
    lines: int = 0
    bad: int = 0
    unmatched: int = 0


class WebParser:
    """Turns lines into a WebTally; one instance per ingest run.

    `sites` maps a lowercase host name to a site id; `salt` gives an open day's salt
    (None for a closed day: its lines count but add no visitors or pages).
    """

    def __init__(
        self,
        sites: dict[bytes, int],
        salt: Callable[[dt.date], bytes | None],
        default_host: bytes | None = None,
    ) -> None:
        self.sites = dict(sites)  # grows by host names as written ("Shop.Example.NL")
        self.salt = salt
        self.default_host = default_host
        self._days: dict[bytes, dt.date | None] = {}
        self._v6: dict[bytes, bytes | None] = {}
        self._salts: dict[dt.date, bytes | None] = {}

    def feed(self, lines: Iterable[bytes], tally: WebTally) -> None:
        combined = COMBINED.match
        json = JSON.match
        days = self._days
        v6 = self._v6
        sites = self.sites
        default_host = self.default_host
        counters = tally.days
        sketches = tally.sketches
        pages = tally.pages
        seen: dict[tuple[int, dt.date, bytes, bytes], int] = {}
        salts = self._salts
        blake = hashlib.blake2b
        add = hll.add
        n = bad = unmatched = 0
        for line in lines:
            n += 1
            if len(line) > MAX_LINE or b"\0" in line or not line:
                bad += 1
                continue
            if line[0] == 123:  # "{"
                m = json(line)
                if m is None:
                    bad += 1
                    continue
                daykey, host, addr, path, status, size, ua = m.groups()
                parse_day = _day_iso
            else:
                m = combined(line)
                if m is None:
                    bad += 1
                    continue
                addr, daykey, path, status, size, ua, host = m.groups()
                parse_day = _day_combined
            # Truncate first: from here on only the network is known.
            if b":" in addr:
                net = v6.get(addr)
                if net is None:
                    if len(v6) > 100_000:
                        v6.clear()
                    net = v6[addr] = truncate_v6(addr)
                    if net is None:
                        bad += 1
                        continue
            else:
                net = addr[: addr.rfind(b".")]
            del addr
            day = days.get(daykey)
            if day is None:
                day = days[daykey] = parse_day(daykey)
                if day is None:
                    bad += 1
                    continue
            written = host or default_host or b""
            site = sites.get(written)
            if site is None:
                name = written.lower()
                site = sites.get(name)
                if site is None:
                    unmatched += 1
                    continue
                if len(sites) < 100_000:
                    sites[written] = site  # as written, for the next line

            key = (site, day)
            row = counters.get(key)
            if row is None:
                row = counters[key] = [0, 0, 0, 0, 0, 0, 0]
            row[0] += 1
            if size != b"-":
                row[1] += int(size)
            cls = status[0] - 47  # b"1" -> 2
            row[cls] += 1
            if day not in salts:
                salts[day] = self.salt(day)
            salt = salts[day]
            if salt is None:
                continue
            vkey = (site, day, net, ua)
            h = seen.get(vkey)
            if h is None:
                h = seen[vkey] = int.from_bytes(
                    blake(b"%d|%s|%s" % (site, net, ua), digest_size=8, key=salt).digest(), "big"
                )
                sketch = sketches.get(key)
                if sketch is None:
                    sketch = sketches[key] = hll.new()
                add(sketch, h)
            if path is not None and cls == 3:
                pkey = (site, day, path if len(path) <= MAX_PATH else path[:MAX_PATH])
                page = pages.get(pkey)
                if page is None:
                    page = pages[pkey] = [0, set()]
                page[0] += 1  # type: ignore[operator]
                marks = page[1]
                if len(marks) < PAGE_VISITORS:  # type: ignore[arg-type]
                    marks.add(h)  # type: ignore[attr-defined]
        tally.lines += n
        tally.bad += bad
        tally.unmatched += unmatched
