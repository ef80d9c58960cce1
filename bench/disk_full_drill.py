"""A full disk under PostgreSQL (scripts/drill-pg): the database named by DATABASE_URL
lives in a tablespace on a small filesystem of its own, which this drill fills with a
file until nothing is left. Then, while it is full:

- audit appends go on until PostgreSQL refuses one (a table needs a new page); the
  refused one leaves nothing behind (head and entries agree);
- a login, which writes its session and its audit entry, gets the 503 page with
  Retry-After; a page that only reads still opens;
- the renewal job fails and nothing of it stays half-written.

Then the file is removed (space returns) and the same login works, the same job is run
again by the same worker and invoices each customer once with invoice numbers without a
gap, and the audit chain verifies.

Run as `python -m bench.disk_full_drill DIRECTORY` (DIRECTORY: on the small filesystem);
prints a JSON line, exits 1 when a check fails.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kluis.settings")


def fill(path: Path) -> int:
    """Write `path` until the filesystem is full; how many bytes it took. Unbuffered, so
    that nothing is left over for a close to fail on."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1 << 9):
            block = b"\0" * size
            while True:
                try:
                    count = os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
                written += count
                if count < size:
                    break
    finally:
        os.close(fd)
    return written


def main() -> int:
    import django

    django.setup()
    from django.conf import settings

    # The 503 page is the production handler's; DEBUG would show Django's own.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    from django.db import DatabaseError, connections, transaction
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from kluis.audit.chain import audit_append, audit_verify
    from kluis.audit.models import AuditEntry, AuditHead
    from kluis.billing.models import Invoice
    from kluis.jobs.models import JobRun
    from kluis.jobs.registry import JOBS
    from kluis.jobs.services import jobs_run_due
    from kluis.shop.testing import make_subscription
    from kluis.testing import PASSWORD, make_customer

    def reconnect() -> None:
        for alias in connections:
            connections[alias].close_if_unusable_or_obsolete()

    def chain_whole() -> bool:
        head = AuditHead.objects.filter(pk=1).first()
        return head is None or head.seq == AuditEntry.objects.count()

    def renewal_invoices() -> list[Invoice]:
        return list(Invoice.objects.filter(order__isnull=True, kind=Invoice.Kind.INVOICE))

    worker = "drill:disk-full"
    token = uuid.uuid4().hex[:8]
    today = timezone.localdate()
    users = [
        make_customer(name=f"Klant {n}", email=f"klant{n}-{token}@example.nl") for n in range(3)
    ]
    for user in users:
        assert user.customer is not None
        make_subscription(user.customer, started_on=today - dt.timedelta(days=25))
    for name in JOBS:  # only the renewals are due
        if name != "billing_renewals":
            JobRun.objects.update_or_create(name=name, defaults={"last_started_at": timezone.now()})
    login = {"email": f"klant0-{token}@example.nl", "password": PASSWORD}
    login_url = reverse("accounts:login")
    result: dict[str, Any] = {}
    checks: dict[str, bool] = {}

    filler = Path(sys.argv[1]) / f"filler-{token}"
    result["free_before_filling"] = shutil.disk_usage(filler.parent).free
    result["filled_bytes"] = fill(filler)
    try:
        appended = 0
        refusal = ""
        for _ in range(50_000):
            try:
                with transaction.atomic():
                    audit_append(action="drill.disk", actor="system:drill", data={"n": appended})
                appended += 1
            except DatabaseError as exc:
                cause = exc.__cause__
                refusal = f"{type(exc).__name__} {getattr(cause, 'sqlstate', '')}".strip()
                break
        reconnect()
        result["appended_before_refused"] = appended
        result["refused_with"] = refusal
        checks["an audit append is refused (53100 disk full)"] = refusal.endswith("53100")
        checks["the refused append left nothing behind"] = chain_whole()

        client = Client(raise_request_exception=False)
        answer = client.post(login_url, login)
        result["login_while_full"] = answer.status_code
        checks["a login while full gets 503 with Retry-After"] = (
            answer.status_code == 503 and answer.get("Retry-After") == "30"
        )
        reconnect()
        result["read_page_while_full"] = client.get("/").status_code
        checks["a page that only reads still opens"] = result["read_page_while_full"] == 200
        reconnect()

        try:
            report = jobs_run_due(worker=worker)
            result["job_pass_while_full"] = {"ran": report.ran, "failed": report.failed}
        except DatabaseError as exc:
            result["job_pass_while_full"] = f"refused: {type(exc).__name__}"
        reconnect()
        checks["the renewal job did not complete while full"] = len(renewal_invoices()) < len(users)
        result["invoices_while_full"] = len(renewal_invoices())
        checks["nothing half-written: the chain is whole"] = chain_whole()
    finally:
        filler.unlink()
    reconnect()

    answer = Client(raise_request_exception=False).post(login_url, login)
    result["login_after"] = answer.status_code
    checks["the login works once space returns"] = answer.status_code == 302
    report = jobs_run_due(worker=worker)
    if "billing_renewals" not in report.ran:  # recorded as failed first: due at once
        report = jobs_run_due(worker=worker)
    result["job_pass_after"] = {"ran": report.ran, "failed": report.failed}
    invoices = renewal_invoices()
    checks["each customer invoiced once"] = sorted(str(i.customer_id) for i in invoices) == sorted(
        str(u.customer_id) for u in users
    )
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    checks["invoice numbers without a gap or a double"] = sequences == list(
        range(sequences[0], sequences[0] + len(sequences))
    )
    with transaction.atomic():
        audit_append(action="drill.disk.after", actor="system:drill", data={})
    verdict = audit_verify()
    result["audit_entries"] = AuditEntry.objects.count()
    checks["the audit chain verifies"] = verdict.ok
    result["checks"] = checks
    print(json.dumps(result))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
