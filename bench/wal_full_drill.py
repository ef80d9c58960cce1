"""The write-ahead log's own disk full (scripts/drill-pg, step 4): the cluster's pg_wal
lives on a small filesystem of its own, which the drill script fills with a file while
this writer appends to the audit chain. PostgreSQL cannot make its next WAL segment,
PANICs and stops; the script frees the space and starts it again. Meanwhile:

- every append is numbered, and the ones that returned (acknowledged: committed) are
  remembered;
- at the first refused append, a login (which writes its session) is tried: it should
  get the 503 page with Retry-After;
- the writer goes on trying every 0.2 s until the server is back, then appends again.

Afterwards: every acknowledged append is in the chain, at most one more (the commit in
flight when the server stopped, which its writer never heard of), none twice; no half
row (the head names the last entry, the numbers run without a gap); the chain verifies.

Run as `python -m bench.wal_full_drill SECONDS` (the longest it waits) against
DATABASE_URL; DRILL_READY names a file made after the first append, DRILL_OUTAGE one
made at the first refusal. Prints a JSON line, exits 1 when a check fails.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kluis.settings")

# Appends after the outage that show the writer has resumed.
RESUMED = 20


def main() -> int:
    import django

    django.setup()
    from django.conf import settings

    # The 503 page is the production handler's; DEBUG would show Django's own.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    from django.db import DatabaseError, InterfaceError, connections
    from django.test import Client
    from django.urls import reverse

    from kluis.audit.chain import audit_append, audit_verify
    from kluis.audit.models import AuditEntry, AuditHead
    from kluis.testing import PASSWORD, make_customer

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
    ready = os.environ.get("DRILL_READY", "")
    outage = os.environ.get("DRILL_OUTAGE", "")
    run = uuid.uuid4().hex[:8]
    make_customer(name="Klant WAL", email=f"wal-{run}@example.nl")
    login = {"email": f"wal-{run}@example.nl", "password": PASSWORD}
    result: dict[str, Any] = {}
    acknowledged: list[int] = []
    attempts = refused = resumed = 0
    outage_started = outage_ended = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end and resumed < RESUMED:
        for alias in connections:
            connections[alias].close_if_unusable_or_obsolete()
        n = attempts
        attempts += 1
        try:
            audit_append(action="drill.wal", actor="system:drill", data={"n": n, "run": run})
        except (DatabaseError, InterfaceError) as exc:
            refused += 1
            for alias in connections:
                connections[alias].close()
            if refused == 1:
                outage_started = time.monotonic()
                result["first_refusal"] = type(exc).__name__
                if outage:
                    Path(outage).touch()
                answer = Client(raise_request_exception=False).post(
                    reverse("accounts:login"), login
                )
                result["login_during_outage"] = answer.status_code
                result["login_retry_after"] = answer.get("Retry-After")
                for alias in connections:
                    connections[alias].close()
            time.sleep(0.2)
            continue
        acknowledged.append(n)
        if refused:
            if not outage_ended:
                outage_ended = time.monotonic()
            resumed += 1
        if ready and len(acknowledged) == 1:
            Path(ready).touch()
        time.sleep(0.005)
    for alias in connections:
        connections[alias].close()

    found: list[int] = []
    for payload in AuditEntry.objects.filter(action="drill.wal").values_list("payload", flat=True):
        data = json.loads(payload)["data"]
        if data.get("run") == run:
            found.append(int(data["n"]))
    head = AuditHead.objects.get(pk=1)
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    verdict = audit_verify()
    lost = sorted(set(acknowledged) - set(found))
    in_doubt = sorted(set(found) - set(acknowledged))
    result.update(
        attempted=attempts,
        acknowledged=len(acknowledged),
        refused_while_down=refused,
        outage_seconds=round(outage_ended - outage_started, 1) if outage_ended else None,
        appended_after=resumed,
        found=len(found),
        lost=len(lost),
        doubled=len(found) - len(set(found)),
        committed_unacknowledged=len(in_doubt),
        chain_entries=len(seqs),
        chain_ok=verdict.ok,
    )
    checks = {
        "the server refused appends (it stopped)": refused > 0,
        "every acknowledged append is there": not lost,
        "none twice": len(found) == len(set(found)),
        "at most the one commit in flight beyond the acknowledged": len(in_doubt) <= 1,
        "no half row: the head names the last entry, numbers without a gap": (
            head.seq == len(seqs) and seqs == list(range(1, len(seqs) + 1))
        ),
        "a login during the outage got the 503 page with Retry-After": (
            result.get("login_during_outage") == 503 and result.get("login_retry_after") == "30"
        ),
        "the writer resumed": resumed >= RESUMED,
        "the audit chain verifies": verdict.ok,
    }
    result["checks"] = checks
    print(json.dumps(result))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
