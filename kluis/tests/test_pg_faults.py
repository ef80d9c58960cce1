"""Real PostgreSQL faults: the server ends the connection (pg_terminate_backend) in the
middle of the work, as a restart or an administrator would.

Unlike kluis/shop/tests/test_database_gone.py, which raises the error in Python, here
PostgreSQL itself drops the connection of this test's own session (no other session is
touched) at the Nth statement, and psycopg finds out as it would in production.
The last drill does the same to a real worker process (`manage.py worker`) in the
middle of a job: the job is retried by the same worker, and nothing is lost or done twice.
Skipped on SQLite. `make drill-pg` runs these with the backup drill.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import psycopg.sql
import pytest
from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.test import Client
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.audit.chain import audit_append, audit_verify
from kluis.audit.models import AuditEntry, AuditHead
from kluis.billing import emails
from kluis.billing.models import Invoice, VatRate
from kluis.billing.rates import vat_rates_load
from kluis.jobs.models import JobRun
from kluis.jobs.registry import JOBS
from kluis.mail.models import OutboxMessage
from kluis.mail.tests.conftest import smtp_server, worker_env  # noqa: F401 (a fixture)
from kluis.shop.models import Subscription
from kluis.shop.testing import make_subscription
from kluis.testing import make_customer

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    if connections["default"].vendor != "postgresql":
        pytest.skip("a PostgreSQL fault drill; this run is on SQLite")


def _url(alias: str) -> str:
    config = connections[alias].settings_dict
    user, password = str(config.get("USER") or ""), str(config.get("PASSWORD") or "")
    auth = f"{quote(user)}:{quote(password)}@" if password else (f"{quote(user)}@" if user else "")
    host, port = config.get("HOST") or "127.0.0.1", config.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{config['NAME']}"


class KillAt:
    """An execute wrapper: before the `at`-th statement, the server ends this session."""

    def __init__(self, alias: str, at: int = 0) -> None:
        self.alias = alias
        self.at = at
        self.seen = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.seen += 1
        if self.seen == self.at:
            pid = connections[self.alias].connection.info.backend_pid
            with psycopg.connect(_url(self.alias), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return execute(sql, params, many, context)


def _next_request() -> None:
    # What Django does at the start of every request: drop a connection that failed.
    for alias in connections:
        connections[alias].close_if_unusable_or_obsolete()


@pytest.mark.parametrize("at", [1, 2, 4])
def test_a_request_whose_connection_is_killed_gets_a_503_and_the_next_one_works(personas, at):
    client = Client(raise_request_exception=False)
    client.force_login(personas.alice)
    _next_request()
    assert client.get("/portaal/").status_code == 200
    kill = KillAt("default", at)
    with connections["default"].execute_wrapper(kill):
        response = client.get("/portaal/")
    assert kill.seen >= at
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Traceback" not in response.content.decode()
    _next_request()
    assert client.get("/portaal/").status_code == 200


@pytest.mark.parametrize("at", [1, 2])
def test_an_audit_append_cut_off_leaves_the_chain_whole(at):
    audit_append(action="drill.before", actor="system:drill", data={})
    kill = KillAt("default", at)
    with (
        pytest.raises(OperationalError),
        connections["default"].execute_wrapper(kill),
        transaction.atomic(),
    ):
        audit_append(action="drill.cut", actor="system:drill", data={})
    _next_request()
    assert not AuditEntry.objects.filter(action="drill.cut").exists()
    head = AuditHead.objects.get(pk=1)
    assert head.seq == AuditEntry.objects.count()
    audit_append(action="drill.after", actor="system:drill", data={})
    verdict = audit_verify()
    assert verdict.ok, verdict


def test_a_keystore_connection_killed_mid_read_fails_cleanly_and_recovers(personas):
    from kluis.policy.enforce import Actor
    from kluis.vault.keys import forget_unwrapped
    from kluis.vault.reveal import reveal_many

    rows = [personas.customer_a, personas.customer_b]
    actor = Actor.system("drill")
    forget_unwrapped()
    kill = KillAt("keystore", 1)
    with pytest.raises(OperationalError), connections["keystore"].execute_wrapper(kill):
        reveal_many(rows, ["name"], purpose="invoicing", actor=actor)
    _next_request()
    values = reveal_many(rows, ["name"], purpose="invoicing", actor=actor)
    assert all(v["name"] for v in values)


def _wait_for(what: str, found: Callable[[], Any], seconds: float = 90.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"waited {seconds:.0f} s for {what}")


# Where the worker is when its connection goes: waiting inside the second customer's
# transaction for that customer's locked subscriptions (the first customer's invoice is
# committed by then), or at the job's first read, outside any transaction, waiting for
# a table lock. In a transaction Django drops the connection when its rollback fails;
# outside one, the job runner itself must drop it before recording the failure.
WORKER_CUTS = {
    "inside a customer's transaction": "FOR UPDATE",
    "between transactions": "LOCK TABLE",
}


@pytest.mark.parametrize("where", list(WORKER_CUTS))
def test_a_worker_whose_connection_is_killed_mid_job_retries_it_and_loses_nothing(
    personas,
    smtp_server,  # noqa: F811 (the fixture)
    where,
):
    """`manage.py worker` runs the renewal invoices of three customers. Another session
    holds a lock the worker must wait for (see WORKER_CUTS); there PostgreSQL ends the
    worker's connection. The worker lives on, records the failed run on a new
    connection and runs the job again: each customer ends with one invoice and one mail,
    the invoice numbers run on without a gap, and the audit chain verifies."""
    if not VatRate.objects.exists():  # a migration's rows, gone after an earlier test's flush
        vat_rates_load()
    today = timezone.localdate()
    third = make_customer(name="Derde Klant", email="derde-drill@example.nl").customer
    assert third is not None
    # In the order the job takes them.
    customers = list(
        Customer.objects.filter(
            pk__in=[personas.customer_a.pk, personas.customer_b.pk, third.pk]
        ).order_by("number")
    )
    for customer in customers:
        # A month's subscription whose next period starts within the renewal lead.
        make_subscription(customer, started_on=today - dt.timedelta(days=25))
    # Only the renewals are due; the other jobs ran a moment ago.
    for name in JOBS:
        if name != "billing_renewals":
            JobRun.objects.update_or_create(name=name, defaults={"last_started_at": timezone.now()})
    series = settings.KLUIS_INVOICE_SERIES
    issued_before = Invoice.objects.filter(series=series).count()

    def renewal_invoices() -> list[Invoice]:
        return list(Invoice.objects.filter(order__isnull=True, kind=Invoice.Kind.INVOICE))

    with (
        psycopg.connect(_url("default"), autocommit=True) as admin,
        psycopg.connect(_url("default")) as locker,
    ):
        table = psycopg.sql.Identifier(Subscription._meta.db_table)
        if WORKER_CUTS[where] == "FOR UPDATE":
            query = "SELECT id FROM {} WHERE customer_id = %s FOR UPDATE"
            locker.execute(psycopg.sql.SQL(query).format(table), [customers[1].pk])
            committed_first = [customers[0].pk]
        else:
            locker.execute(psycopg.sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
            committed_first = []
        locker_pid = locker.info.backend_pid
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--interval", "0.2"],
            cwd=settings.BASE_DIR,
            env=worker_env(
                smtp_server, KLUIS_AUDIT_WITNESS_DIR=str(settings.KLUIS_AUDIT_WITNESS_DIR)
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            blocked = _wait_for(
                "the worker to wait for the locked subscriptions",
                lambda: admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"
                    " AND %s = ANY(pg_blocking_pids(pid))",
                    [locker_pid],
                ).fetchall(),
            )
            [(worker_pid,)] = blocked
            assert [i.customer_id for i in renewal_invoices()] == committed_first
            admin.execute("SELECT pg_terminate_backend(%s)", [worker_pid])
            locker.rollback()
            _wait_for(
                "the job to be run again to its end",
                lambda: JobRun.objects.filter(
                    name="billing_renewals", last_outcome__startswith="renewals:"
                ).exists(),
            )
            _wait_for(
                "every mail to be sent",
                lambda: not OutboxMessage.objects.exclude(
                    status=OutboxMessage.Status.SENT
                ).exists(),
            )
            assert worker.poll() is None, worker.stderr and worker.stderr.read()
        finally:
            locker.rollback()
            worker.send_signal(signal.SIGTERM)
            try:
                out, err = worker.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                out, err = worker.communicate()
    Path(settings.VAR_DIR, "pg-fault-worker.log").write_text(out + err)
    assert worker.returncode == 0, err
    assert "job billing_renewals: done" in out

    # The cut-off run was recorded as failed and the same worker ran it again.
    def job_entries(action: str) -> list[dict[str, Any]]:
        entries = (json.loads(e.payload) for e in AuditEntry.objects.filter(action=action))
        return [e["data"] for e in entries if e["data"].get("job") == "billing_renewals"]

    assert [d["outcome"] for d in job_entries("job.failed")] == ["OperationalError"]
    assert len(job_entries("job.finished")) == 1
    # One invoice per customer, the numbers without a gap or a double.
    invoices = renewal_invoices()
    assert sorted(i.customer_id for i in invoices) == sorted(c.pk for c in customers)
    sequences = sorted(Invoice.objects.filter(series=series).values_list("sequence", flat=True))
    assert len(sequences) == issued_before + 3
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    # One mail per invoice in the outbox, and each arrived once.
    mails = OutboxMessage.objects.filter(template=emails.INVOICE)
    assert sorted(m.context["invoice_id"] for m in mails) == sorted(str(i.pk) for i in invoices)
    message_ids = [r.message["Message-ID"] for r in smtp_server.received]
    assert len(message_ids) == len(set(message_ids)) == OutboxMessage.objects.count()
    verdict = audit_verify()
    assert verdict.ok, verdict
