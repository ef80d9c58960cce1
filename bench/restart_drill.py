"""A PostgreSQL restart under a running writer (scripts/drill-pg): audit appends go on
every 20 ms while the server is restarted; the ones that fail while it is down fail
whole, the writer carries on once it is back, and the chain verifies.

Run as `python -m bench.restart_drill SECONDS` against DATABASE_URL; prints a JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kluis.settings")


def main() -> int:
    import django

    django.setup()
    from django.db import DatabaseError, InterfaceError, connections

    from kluis.audit.chain import audit_append, audit_verify
    from kluis.audit.models import AuditEntry

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    done = failed = 0
    # Entries already there (an earlier run) count too.
    before = AuditEntry.objects.count()
    # The drill restarts the server once the writer has appended (DRILL_READY names a
    # file made then): on a loaded machine Django's start alone may outlast a fixed wait.
    ready = os.environ.get("DRILL_READY", "")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if ready and done == 1:
            Path(ready).touch()
        for alias in connections:
            connections[alias].close_if_unusable_or_obsolete()
        try:
            audit_append(action="drill.restart", actor="system:drill", data={"n": done})
            done += 1
        except (DatabaseError, InterfaceError):
            failed += 1
            for alias in connections:
                connections[alias].close()
        time.sleep(0.02)
    # On a loaded machine the restart may outlast the writer: wait for the server.
    for _ in range(60):
        for alias in connections:
            connections[alias].close()
        try:
            verdict = audit_verify()
            after = AuditEntry.objects.count()
            break
        except (DatabaseError, InterfaceError):
            time.sleep(1)
    else:
        print(json.dumps({"error": "the server did not come back within a minute"}))
        return 1
    result = {
        "appended": done,
        "failed_while_down": failed,
        "entries": after,
        "lost_or_extra": after - before - done,
        "chain_ok": verdict.ok,
    }
    print(json.dumps(result))
    return 0 if verdict.ok and result["lost_or_extra"] == 0 and failed > 0 and done > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
