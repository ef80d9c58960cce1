"""`import_statement FILE` killed with SIGKILL at a seeded random point, in a process of
its own, leaves either nothing or the whole statement; a rerun then equals one clean
import, and a further rerun changes nothing.

The kill point is the Nth SQL statement the command sends (Django's execute_wrapper,
installed by the small driver below), N drawn from a seeded generator over the number
of statements a clean import of the same shape sends. The driver touches nothing of
the importer itself, so the test holds whatever the importer does inside.

The check must be able to fail: a second test kills the import at a fixed point in
the middle of its writes (just before it records what the invoices are paid, with
its payment rows written), once as it is
and once with Django's transactions turned into no-ops in the killed process only
(`NO_ATOMIC`; its row locks become plain reads too, since PostgreSQL refuses a row
lock outside a transaction). The first leaves all or nothing, the second a half-done
import that the check names, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from kluis.billing import services
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import BankStatement, Invoice, Payment
from kluis.billing.tests.helpers import order_for
from kluis.mail.tests.conftest import database_url

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
SEED = int(os.environ.get("KLUIS_KILL_SEED", "20261204"))
KILLED = -signal.SIGKILL

DRIVER = """
import contextlib, os, signal, sys
if os.environ.get("NO_ATOMIC"):
    # The broken import: every transaction a no-op, so each statement commits alone.
    import django.db.transaction as transaction

    class _Nothing(contextlib.ContextDecorator):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def atomic(using=None, savepoint=True, durable=False):
        return using if callable(using) else _Nothing()

    transaction.atomic = atomic
    # Without a transaction a row lock means nothing, and Django refuses one on
    # PostgreSQL: the broken import reads without locking.
    from django.db.models.query import QuerySet

    QuerySet.select_for_update = lambda self, *args, **kwargs: self
import django
django.setup()
from django.core.management import call_command
if os.environ.get("KILL_AFTER_FRAMES"):
    # The file read by the reading process (kluis.billing.camt_ahead), whatever its
    # size; this process killed once it has taken that many frames, the reader's pid
    # printed first.
    import subprocess
    from kluis.billing import camt_ahead

    camt_ahead.READ_AHEAD_BYTES = 0
    frames, popen, read_frame = 0, subprocess.Popen, camt_ahead._read_frame

    def started(*args, **kwargs):
        child = popen(*args, **kwargs)
        print(f"reader={child.pid}", flush=True)
        return child

    def counted(stream):
        global frames
        frames += 1
        if frames > int(os.environ["KILL_AFTER_FRAMES"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return read_frame(stream)

    camt_ahead.subprocess.Popen = started
    camt_ahead._read_frame = counted
from django.db import connection

limit = int(os.environ["KILL_AT"])
before = os.environ.get("KILL_BEFORE", "")
seen = 0

def counting(execute, sql, params, many, context):
    global seen
    seen += 1
    if seen == limit or (before and before in sql):
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(sql, params, many, context)

with connection.execute_wrapper(counting):
    call_command("import_statement", sys.argv[1])
print(f"statements={seen}")
"""


def _run(
    path: Path,
    kill_at: int = 0,
    *,
    kill_before: str = "",
    no_atomic: bool = False,
    kill_after_frames: int = 0,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLUIS_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="kluis.settings",
        KLUIS_VAR_DIR=str(settings.VAR_DIR),
        KLUIS_MASTER_KEY_FILE=str(settings.KLUIS_MASTER_KEY_FILE),
        KLUIS_POLICY_DIR=str(settings.KLUIS_POLICY_DIR),
        KLUIS_AUDIT_WITNESS_DIR=str(settings.KLUIS_AUDIT_WITNESS_DIR),
        DATABASE_URL=database_url("default"),
        KLUIS_KEYSTORE_URL=database_url("keystore"),
        KILL_AT=str(kill_at),
        KILL_BEFORE=kill_before,
    )
    if no_atomic:
        env["NO_ATOMIC"] = "1"
    if kill_after_frames:
        env["KILL_AFTER_FRAMES"] = str(kill_after_frames)
    for name in ("KLUIS_MASTER_KEY", "KLUIS_IBAN", "KLUIS_KVK_NUMBER", "KLUIS_VAT_NUMBER"):
        if name in os.environ:
            env[name] = os.environ[name]
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _statement(tmp_path: Path, customer, name: str) -> tuple[Path, list[Invoice]]:
    invoices = [services.invoice_issue(order=order_for(customer), issued_by=None) for _ in range(5)]
    txs = [
        Tx(
            f"{name}-{n}",
            f"{inv.total_cents // (1 + n % 2) / 100:.2f}",
            kenmerk=inv.payment_reference,
        )
        for n, inv in enumerate(invoices)
    ] + [Tx(f"{name}-none", "7.00", name="Niemand Bekend")]
    return write_statement(tmp_path, txs, name=f"{name}.xml"), invoices


def _state(invoices: list[Invoice], prefix: str) -> tuple[list[tuple[str, int, str]], list[int]]:
    """The statement's payments (by entry, without the statement's prefix) and what its
    invoices have been paid, comparable between two statements of the same shape."""
    payments = Payment.objects.filter(entry_reference__startswith=prefix)
    paid = dict(
        Invoice.objects.filter(pk__in=[i.pk for i in invoices]).values_list("pk", "paid_cents")
    )
    return (
        sorted(
            (ref.removeprefix(prefix), amount, match)
            for ref, amount, match in payments.values_list(
                "entry_reference", "amount_cents", "match"
            )
        ),
        [paid[i.pk] for i in invoices],
    )


def test_a_statement_import_killed_at_a_random_statement_leaves_all_or_nothing(tmp_path, personas):
    # A clean import of one statement: what a whole import does, and how many SQL
    # statements it sends.
    clean_path, clean_invoices = _statement(tmp_path, personas.customer_a, "A")
    clean = _run(clean_path)
    assert clean.returncode == 0, clean.stderr
    total = int(clean.stdout.rsplit("statements=", 1)[1])
    clean_state = _state(clean_invoices, "A-")
    assert len(clean_state[0]) == 6

    path, invoices = _statement(tmp_path, personas.customer_b, "B")
    kill_at = random.Random(SEED).randrange(1, total)
    killed = _run(path, kill_at=kill_at)
    assert killed.returncode == KILLED, (kill_at, total, killed.stdout, killed.stderr)
    after_kill = _state(invoices, "B-")
    nothing: tuple[list[tuple[str, int, str]], list[int]] = ([], [0] * len(invoices))
    assert after_kill in (nothing, clean_state), (kill_at, total, after_kill)
    statements = BankStatement.objects.count()
    assert statements in (1, 2)

    rerun = _run(path)
    assert rerun.returncode == 0, rerun.stderr
    once = _state(invoices, "B-")
    assert once == clean_state
    assert BankStatement.objects.count() == 2
    again = _run(path)
    assert again.returncode == 0, again.stderr
    assert _state(invoices, "B-") == once
    assert BankStatement.objects.count() == 2


# The payments are written (an INSERT on SQLite, a COPY on PostgreSQL, which the
# driver does not see), then the invoices' paid amounts: the kill comes between them.
PAID_AMOUNTS = 'UPDATE "billing_invoice"'


def test_the_check_goes_red_on_an_import_without_its_transaction(tmp_path, personas):
    nothing: tuple[list[tuple[str, int, str]], list[int]] = ([], [0] * 5)
    # As it is: killed after its payment rows, the import left nothing.
    path, invoices = _statement(tmp_path, personas.customer_a, "C")
    clean_path, clean_invoices = _statement(tmp_path, personas.customer_b, "D")
    assert _run(clean_path).returncode == 0
    whole = _state(clean_invoices, "D-")
    killed = _run(path, kill_before=PAID_AMOUNTS)
    assert killed.returncode == KILLED, killed.stderr
    assert _state(invoices, "C-") in (nothing, whole)

    # Without its transaction, killed at the same point: half an import, which is
    # what the all-or-nothing assertion above would catch.
    path, invoices = _statement(tmp_path, personas.customer_a, "E")
    killed = _run(path, kill_before=PAID_AMOUNTS, no_atomic=True)
    assert killed.returncode == KILLED, killed.stderr
    half = _state(invoices, "E-")
    assert half not in (nothing, whole), half


def _ended(pid: int) -> bool:
    """The process is gone, or a zombie nobody has reaped yet: it runs no more."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_an_import_killed_while_its_reading_process_reads_ahead_leaves_nothing_running(
    tmp_path, personas
):
    """The importing process killed with frames still to come: the reader, blocked on
    the full pipe or about to write, finds it closed and ends; nothing was imported,
    and a rerun imports the whole file once."""
    import time

    # 6,000 entries (about 3 MiB): more than the 1 MiB pipe and the frames already read.
    txs = [Tx(f"F-{n}", "7.00", name="Niemand Bekend", text=f"gift {n}") for n in range(6000)]
    path = write_statement(tmp_path, txs, name="large.xml")
    killed = _run(path, kill_after_frames=5)
    assert killed.returncode == KILLED, killed.stderr
    reader = int(killed.stdout.split("reader=", 1)[1].split()[0])
    deadline = time.monotonic() + 30
    while not _ended(reader) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ended(reader), f"the reading process {reader} still runs"
    assert Payment.objects.filter(entry_reference__startswith="F-").count() == 0

    rerun = _run(path)
    assert rerun.returncode == 0, rerun.stderr
    assert Payment.objects.filter(entry_reference__startswith="F-").count() == 6000
