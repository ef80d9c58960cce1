"""A week of generated nginx and Postfix logs for the demo site, read as the worker would."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from kluis.sites.models import Site
from kluis.usage import store
from kluis.usage.ingest import Source, ingest_sources
from kluis.usage.mailboxes import mailbox_add
from kluis.usage.models import Mailbox

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PAGES = ["/", "/catalogus", "/catalogus/theepotten", "/product/42", "/winkelwagen", "/contact"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
]


def _web_day(rng: random.Random, day: dt.date, host: str) -> list[str]:
    lines = []
    stamp = f"{day.day:02d}/{MONTHS[day.month - 1]}/{day.year}"
    for visitor in range(rng.randint(80, 220)):
        net = f"{rng.choice((31, 77, 145, 185))}.{rng.randint(1, 254)}"
        addr = f"{net}.{visitor % 250}.{rng.randint(1, 254)}"
        agent = rng.choice(AGENTS)
        for _ in range(rng.randint(1, 8)):
            path = rng.choice(PAGES) + (f"?q={rng.randint(1, 999)}" if rng.random() < 0.1 else "")
            status = rng.choices((200, 304, 404, 500), weights=(85, 10, 4, 1))[0]
            size = rng.randint(800, 60_000) if status == 200 else 0
            lines.append(
                f"{addr} - - [{stamp}:{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 +0100] "
                f'"GET {path} HTTP/2.0" {status} {size} "-" "{agent}" "{host}"\n'
            )
    return lines


def _mail_day(rng: random.Random, day: dt.date, box: str, first_id: int) -> list[str]:
    stamp = f"{MONTHS[day.month - 1]} {day.day:2d}"
    lines = []
    for n in range(rng.randint(5, 25)):
        qid = f"{first_id + n:010X}"
        t = f"{stamp} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 mx1 postfix"
        outgoing = rng.random() < 0.4
        sender = box if outgoing else f"klant{n}@voorbeeld.nl"
        recipients = [f"relatie{n}@voorbeeld.nl", f"collega{n}@voorbeeld.nl"] if outgoing else [box]
        size = rng.randint(2_000, 900_000)
        lines.append(
            f"{t}/qmgr[11]: {qid}: from=<{sender}>, size={size}, "
            f"nrcpt={len(recipients)} (queue active)\n"
        )
        for rcpt in recipients:
            status = "deferred" if outgoing and rng.random() < 0.05 else "sent"
            agent = "smtp" if outgoing else "lmtp"
            lines.append(
                f"{t}/{agent}[12]: {qid}: to=<{rcpt}>, relay=demo, delay=0.4, "
                f"delays=0.1/0/0.1/0.2, dsn={'4.4.1' if status == 'deferred' else '2.0.0'}, "
                f"status={status} (demo)\n"
            )
        lines.append(f"{t}/qmgr[11]: {qid}: removed\n")
    return lines


def usage_demo_load(site: Site, days: int = 7) -> Mailbox:
    """A mailbox in the site's package and a week of its logs, ingested day by day."""
    box = mailbox_add(
        site.customer, site.subscription_id, "info@demo-winkel.nl", actor="system:demo_data"
    )
    rng = random.Random(20261205)  # noqa: S311  (demo data, not a secret)
    folder = Path(settings.VAR_DIR) / "demo-logs"
    folder.mkdir(parents=True, exist_ok=True)
    today = timezone.localdate()
    from kluis.sites.demo import DEMO_HOSTS

    host = DEMO_HOSTS[0]
    for back in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        web = folder / f"access-{day.isoformat()}.log"
        web.write_text("".join(_web_day(rng, day, host)))
        mail = folder / f"mail-{day.isoformat()}.log"
        mail.write_text("".join(_mail_day(rng, day, "info@demo-winkel.nl", back * 1000 + 0x10000)))
        # Read on the day itself, as the worker would have: the day is still open.
        ingest_sources(
            [Source("nginx", str(web)), Source("postfix", str(mail))], node="demo", today=day
        )
    store.days_close(today)
    return box
