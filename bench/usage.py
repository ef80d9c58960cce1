"""Benchmarks of kluis/usage: ingesting nginx and Postfix logs.

nginx: a generated `combined` log of a realistic mix (three days, 40 sites, a
visitor of one site per 25 lines, 60 paths, a tenth with query strings, 2xx to 5xx
answers), ingested by `ingest_sources` (what `manage.py logs_ingest` runs) in a
fresh process. The floor: reading the same file and matching the same compiled
regex, nothing else. Both are timed in CPU seconds (time.process_time): the machine is
shared, and the clock counts the others' work too. Peak memory: the ingesting
process's peak resident size at 1 M and at 5 M lines.

Postfix: a generated mail log (messages of 40 mailboxes and outsiders, several
recipients, a share deferred and bounced), the same way.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import Figure

SITES = 40
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]


def write_nginx(path: Path, lines: int, seed: int = 7) -> None:
    import datetime as dt

    from django.utils import timezone

    rng = random.Random(seed)
    today = timezone.localdate()
    days = [today - dt.timedelta(days=n) for n in (0, 1, 2)]
    stamps = [f"{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}" for d in days]
    paths = [f"/categorie/{n}/product-{n * 7}" for n in range(60)]
    # Visitors of one site each, about 8 requests a visitor a day (200,000 at 5 M lines).
    count = max(lines // 25, 1000)
    visitors = [
        (
            ".".join(str(rng.randint(1, 223)) for _ in range(4)),
            rng.choice(AGENTS),
            rng.randrange(SITES),
        )
        for _ in range(count)
    ]
    statuses = [200] * 85 + [304] * 8 + [404] * 5 + [500] * 2
    with path.open("w") as out:
        buf = []
        for i in range(lines):
            addr, agent, site = visitors[rng.randrange(count)]
            query = f"?utm_source=x{rng.randrange(100)}" if rng.random() < 0.1 else ""
            status = statuses[rng.randrange(100)]
            buf.append(
                f"{addr} - - [{stamps[i * 3 // lines]}:12:{i % 60:02d}:00 +0100] "
                f'"GET {paths[rng.randrange(60)]}{query} HTTP/1.1" {status} '
                f'{rng.randrange(200, 90_000)} "https://example.org/" '
                f'"{agent}" "s{site}.example.nl"\n'
            )
            if len(buf) >= 10_000:
                out.write("".join(buf))
                buf = []
        out.write("".join(buf))


def write_postfix(path: Path, lines: int, boxes: list[str], seed: int = 11) -> None:
    from django.utils import timezone

    rng = random.Random(seed)
    today = timezone.localdate()
    stamp = f"{MONTHS[today.month - 1]} {today.day:2d}"
    written = 0
    n = 0
    with path.open("w") as out:
        while written < lines:
            n += 1
            qid = f"{n:010X}"
            t = f"{stamp} 12:{n % 60:02d}:{n % 59:02d} mx1 postfix"
            outgoing = rng.random() < 0.4
            sender = rng.choice(boxes) if outgoing else f"iemand{n % 5000}@elders.example"
            rcpts = (
                [f"r{n}-{k}@elders.example" for k in range(rng.randint(1, 4))]
                if outgoing
                else [rng.choice(boxes)]
            )
            block = [
                f"{t}/smtpd[10]: {qid}: client=mail{n % 300}.example[203.0.113.{n % 250}]\n",
                f"{t}/cleanup[11]: {qid}: message-id=<{n}.{seed}@example>\n",
                f"{t}/qmgr[12]: {qid}: from=<{sender}>, size={rng.randint(1000, 2_000_000)}, "
                f"nrcpt={len(rcpts)} (queue active)\n",
            ]
            for r in rcpts:
                status = rng.choices(("sent", "deferred", "bounced"), weights=(92, 6, 2))[0]
                agent = "smtp" if outgoing else "lmtp"
                block.append(
                    f"{t}/{agent}[13]: {qid}: to=<{r}>, relay=mx.elders.example[203.0.113.9]:25, "
                    f"delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status={status} (250 ok)\n"
                )
            block.append(f"{t}/qmgr[12]: {qid}: removed\n")
            out.write("".join(block))
            written += len(block)


def _child(source: str) -> tuple[float, float, int]:
    """Run logs_ingest in a fresh process: its own CPU time (which the other work on a
    shared machine disturbs less than the clock), its peak resident MiB."""
    code = (
        "import time, django, json, sys;"
        "django.setup();"
        "from kluis.usage.ingest import ingest_sources, parse_sources;"
        "start = time.process_time();"
        f"r = ingest_sources(parse_sources({source!r}), node='bench');"
        "print(json.dumps([time.process_time() - start, r.lines, r.bad]))"
    )
    proc = subprocess.Popen(  # noqa: S603  (this interpreter, our own code)
        [sys.executable, "-c", code], stdout=subprocess.PIPE, env={**os.environ}
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    assert status == 0, out
    seconds, lines, bad = json.loads(out.splitlines()[-1])
    assert bad == 0
    return seconds, usage.ru_maxrss / 1024, lines


def _floor(path: Path) -> float:
    """The floor's CPU time: reading the file and matching each line, nothing else."""
    from kluis.usage.nginx import COMBINED

    match = COMBINED.match
    start = time.process_time()
    with path.open("rb") as f:
        for line in f:
            match(line)
    return time.process_time() - start


def bench_usage(
    big: int = 5_000_000, small: int = 1_000_000, mail: int = 1_000_000
) -> list[Figure]:
    from kluis.accounts.models import Customer
    from kluis.sites.testing import make_site
    from kluis.usage.models import Mailbox, SiteDay

    big = int(os.environ.get("KLUIS_BENCH_USAGE_LINES", big))
    small = min(small, big // 5) if big < 5_000_000 else small
    owner = Customer(number="U0000001", name="Bench", email="usage@example.nl")
    owner.save()
    for n in range(SITES):
        make_site(owner, hosts=f"s{n}.example.nl")
    boxes = [f"box{n}@bench.example" for n in range(40)]
    for address in boxes:
        Mailbox(customer=owner, address=address).save()
    folder = Path(tempfile.mkdtemp(prefix="kluis-usage-"))
    figures = []
    try:
        runs = {}
        for size in (small, big):
            log = folder / f"nginx-{size}.log"
            write_nginx(log, size, seed=size)  # a first line, and identity, of its own
            SiteDay.objects.all().delete()
            seconds, peak, lines = _child(f"nginx:{log}")
            assert lines == size
            floor = _floor(log)
            runs[size] = (seconds, peak, floor)
            log.unlink()
        seconds, peak, floor = runs[big]
        rate, floor_rate = big / seconds, big / floor
        figures += [
            Figure(
                f"ingest a {big:,}-line nginx log (lines per CPU second; floor: read + same regex)",
                rate,
                "lines/s",
                floor_rate,
                ">= 200,000/s and within 3x floor",
                rate >= 200_000 and floor_rate / rate <= 3,
            ),
            Figure(
                f"its peak resident memory, {big:,} vs {small:,} lines",
                peak,
                "MiB",
                runs[small][1],
                "flat (< 1.5x)",
                peak < 1.5 * runs[small][1],
            ),
        ]
        log = folder / "mail.log"
        write_postfix(log, mail, boxes)
        seconds, peak, lines = _child(f"postfix:{log}")
        figures += [
            Figure(
                f"ingest {lines:,} Postfix lines (per CPU second)",
                lines / seconds,
                "lines/s",
                None,
                "(reported)",
                None,
            ),
            Figure("its peak resident memory", peak, "MiB", None, "(reported)", None),
        ]
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return figures
