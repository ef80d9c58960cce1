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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kluis.usage import hll

MAX_LINE = 16 * 1024  # longer lines are counted as bad, not parsed
PAGE_VISITORS = 5  # a path is kept once this many distinct visitors asked for it
MAX_PAGES = 2000  # paths followed per site per day (scanners make endless new ones)
SEEN_LIMIT = 300_000  # visitors whose hash a run keeps in memory, at most (plus a chunk's)
MAX_PATH = 300  # a longer path is cut: the regexes' path groups take {0,299} after /

# An IPv4 address is matched whole, but only its /24 is captured (`net`): the regex
# truncates it, and the full address never leaves the match. An IPv6 one is captured
# (`addr`) and truncated to its /48 at once.
COMBINED = re.compile(
    rb"(?:(?P<net>[0-9.]{5,11})\.[0-9]{1,3}|(?P<addr>[0-9A-Fa-f:.]{2,45})) \S+ \S+ "
    rb"\[(?P<day>\d\d/[A-Z][a-z]{2}/\d{4}):[^\]]*\] "
    rb'"(?:[A-Z]{1,16} (?P<path>/[^ ?"]{0,299})[^ "]*(?: HTTP/[0-9.]+)?|[^"]*)" '
    rb'(?P<status>[1-5]\d\d) (?P<bytes>\d+|-) "[^"]*" "(?P<ua>[^"]*)"'
    rb'(?: "(?P<host>[^" ]*)")?\r?\n?\Z'
)

# log_format kluis escape=json (README "Usage statistics"): fixed key order.
JSON = re.compile(
    rb'\{"time":"(?P<day>\d{4}-\d\d-\d\d)T[^"]*",'
    rb'"host":"(?P<host>[^"\\]*)",'
    rb'"addr":"(?P<addr>[0-9A-Fa-f:.]{2,45})",'
    rb'"request":"(?:[A-Z]{1,16} (?P<path>/[^ ?"\\]{0,299})(?:[^ "\\]|\\.)*(?: HTTP/[0-9.]+)?'
    rb'|(?:[^"\\]|\\.)*)",'
    rb'"status":(?P<status>[1-5]\d\d),'
    rb'"bytes":(?P<bytes>\d+),'
    rb'"ua":"(?P<ua>(?:[^"\\]|\\.)*)"\}\r?\n?\Z'
)

# What the parse loop matches: either format, or else nothing (an empty match, every
# group None: a bad line), so that a whole chunk is matched and its groups taken in C
# (`map`) and no line needs a test of its first byte. The JSON format's groups are
# renamed (`j…`) after the `combined` ones. A line starting with "{" can only match the
# JSON branch and any other only the `combined` one, so a line is read as before.
LINE = re.compile(
    COMBINED.pattern + b"|" + re.sub(rb"\(\?P<(\w+)>", rb"(?P<j\1>", JSON.pattern) + b"|"
)
_MATCH: Callable[[bytes], re.Match[bytes]] = LINE.match  # type: ignore[assignment]  # never None
_GROUPS: Callable[[re.Match[bytes]], tuple[Any, ...]] = re.Match.groups

# What a (host, date text) leads to when not to a site's day.
BAD_DAY: list[int] = []
NO_SITE: list[int] = []

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
    # (site, day) -> path -> [requests, set of visitor hashes (at most PAGE_VISITORS)]
    pages: dict[tuple[int, dt.date], dict[bytes, list[Any]]] = field(default_factory=dict)
    lines: int = 0
    bad: int = 0
    unmatched: int = 0


class WebParser:
    """Turns lines into a WebTally; one instance per ingest run.

    `sites` maps a lowercase host name to a site id; `lookup` (the ingest's: through
    the sealed host names' blind index) finds a host that `sites` does not hold yet;
    `salt` gives an open day's salt (None for a closed day: its lines count but add no
    visitors or pages).
    """

    def __init__(
        self,
        sites: dict[bytes, int],
        salt: Callable[[dt.date], bytes | None],
        default_host: bytes | None = None,
        lookup: Callable[[bytes], int | None] | None = None,
    ) -> None:
        self.sites = dict(sites)  # grows by host names as written ("Shop.Example.NL")
        self.salt = salt
        self.default_host = default_host
        self.lookup = lookup
        self._days: dict[bytes, dt.date | None] = {}
        self._v6: dict[bytes, bytes | None] = {}
        self._salts: dict[dt.date, bytes | None] = {}
        # (site, day) -> user agent -> network -> the visitor's hash, for the whole
        # run: a visitor is hashed and added to a sketch once per run and day, not
        # once per chunk. (A chunk's sketch then lacks the visitors of earlier chunks;
        # those are in the day's stored sketch already, and merging is a maximum per
        # register, so the stored sketch is the same.) Memory only; emptied past
        # SEEN_LIMIT visitors, between chunks.
        self._seens: dict[tuple[int, dt.date], dict[bytes, dict[bytes, int]]] = {}
        self._hashed = 0

    def feed(self, lines: Sequence[bytes], tally: WebTally) -> None:
        """Count `lines` into `tally`.

        The chunk is matched and its groups taken in C (`map`); per line the work is
        the truncation and a few dict look-ups: what is the same for many lines is
        done once per distinct value. The (host, day) of a line leads to one record of
        the chunk's counters, sketch and pages for that site and day; the visitor hash
        is made once per distinct (network, user agent) of a site and day in the run,
        the day parsed once per distinct date text, the host looked up once per
        distinct spelling.
        """
        v6 = self._v6
        # written host -> date text -> [its lines' counters, salt, seen, sketch,
        # pages, site, the site's day's counters or BAD_DAY / NO_SITE]
        places: dict[bytes | None, dict[bytes, list[Any]]] = {}
        if self._hashed > SEEN_LIMIT:
            self._seens.clear()
            self._hashed = 0
        hashed = 0
        blake = hashlib.blake2b
        from_bytes = int.from_bytes
        add = hll.add
        n = len(lines)
        bad = unmatched = 0
        # A NUL byte is looked for once in the chunk, in C; only a chunk with one, or
        # with an over-long line, is filtered line by line. (An empty line matches
        # nothing and is bad in the loop.)
        if lines and (b"\0" in b"".join(lines) or max(map(len, lines)) > MAX_LINE):
            lines = [line for line in lines if len(line) <= MAX_LINE and b"\0" not in line]
            bad = n - len(lines)
        rows = map(_GROUPS, map(_MATCH, lines))
        for (
            net, addr, daykey, path, status, size, ua, host,
            jday, jhost, jaddr, jpath, jstatus, jsize, jua,
        ) in rows:  # fmt: skip
            if status is None:
                if jstatus is None:
                    bad += 1
                    continue
                daykey, host, path, status, size, ua = jday, jhost, jpath, jstatus, jsize, jua
                addr, jaddr = jaddr, None
            # Truncate first: from here on only the network is known. (A combined
            # line's IPv4 address comes truncated from the match.)
            if addr is not None:
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
            by_day = places.get(host)
            if by_day is None:
                by_day = places[host] = {}
            place = by_day.get(daykey)
            if place is None:
                place = by_day[daykey] = self._place(host, daykey, tally)
            row, salt, seen, sketch, pages, site, _ = place
            if size != b"-":
                row[1] += int(size)
            row[status[0] - 47] += 1  # b"1" -> 2
            if salt is None:
                continue  # a closed day, a bad day or an unknown host: no visitors
            # A dict per user agent, then by network: no (network, agent) tuple to
            # build and hash per line.
            by_net = seen.get(ua)
            if by_net is None:
                by_net = seen[ua] = {}
            h = by_net.get(net)
            if h is None:
                h = by_net[net] = from_bytes(
                    blake(b"%d|%s|%s" % (site, net, ua), digest_size=8, key=salt).digest(),
                    "big",
                )
                add(sketch, h)
                hashed += 1
            if path is not None and status[0] == 50:  # 2xx
                page = pages.get(path)
                if page is None:
                    page = pages[path] = [0, set()]
                page[0] += 1
                marks = page[1]
                if len(marks) < PAGE_VISITORS:
                    marks.add(h)
        for place in (place for by_day in places.values() for place in by_day.values()):
            counts, into = place[0], place[6]
            lines_of = sum(counts[2:])
            if into is BAD_DAY:
                bad += lines_of
            elif into is NO_SITE:
                unmatched += lines_of
            else:
                into[0] += lines_of
                for i in range(1, 7):
                    into[i] += counts[i]
        self._hashed += hashed
        tally.lines += n
        tally.bad += bad
        tally.unmatched += unmatched

    def _place(
        self,
        host: bytes | None,
        daykey: bytes,
        tally: WebTally,
    ) -> list[Any]:
        """The record of a (host, date text) for this chunk, made on its first line."""
        day = self._days.get(daykey, False)
        if day is False:
            parse = _day_iso if daykey[:1].isdigit() and daykey[4:5] == b"-" else _day_combined
            day = self._days[daykey] = parse(daykey)
        if day is None:
            return [[0] * 7, None, None, None, None, None, BAD_DAY]
        written = host or self.default_host or b""
        site = self.sites.get(written)
        if site is None:
            site = self.sites.get(written.lower())
            if site is None and self.lookup is not None:
                site = self.lookup(written.lower())
            if site is None:
                return [[0] * 7, None, None, None, None, None, NO_SITE]
            if len(self.sites) < 100_000:
                self.sites[written] = site  # as written, for the next chunk
        assert isinstance(day, dt.date)
        key = (site, day)
        row = tally.days.get(key)
        if row is None:
            row = tally.days[key] = [0, 0, 0, 0, 0, 0, 0]
        if day not in self._salts:
            self._salts[day] = self.salt(day)
        salt = self._salts[day]
        if salt is None:
            return [[0] * 7, None, None, None, None, site, row]
        sketch = tally.sketches.get(key)
        if sketch is None:
            sketch = tally.sketches[key] = hll.new()
        seen = self._seens.setdefault(key, {})
        pages = tally.pages.setdefault(key, {})
        return [[0] * 7, salt, seen, sketch, pages, site, row]
