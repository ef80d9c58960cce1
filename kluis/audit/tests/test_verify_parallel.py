"""On PostgreSQL a long chain is walked in stretches by forked processes reading one
exported snapshot; the verdict must be the sequential walk's, whatever was done to the
chain and wherever the stretches meet."""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor

import pytest
from django.db import connection

from kluis.audit import chain
from kluis.audit.chain import audit_append_many, audit_verify, entry_hash
from kluis.audit.models import AuditEntry

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the parallel walk is PostgreSQL's (an exported snapshot); SQLite walks alone",
    ),
]

N = 30  # three stretches: 1-10, 11-20, 21-30


def _fill() -> list[AuditEntry]:
    return audit_append_many(
        chain.Event(action="test.event", actor=f"user:{i}", data={"i": i}) for i in range(N)
    )


def _sql(statement: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def forks(monkeypatch):
    """Counts the process pools the walk starts (each a real one)."""
    started = []

    class Counted(ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            started.append(kwargs.get("max_workers"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(chain, "ProcessPoolExecutor", Counted)
    # The walk forks only while its process runs no other thread (chain._may_fork).
    # In a whole test run, threads of earlier tests live on (Playwright's loop, local
    # servers); these tests count only the threads a test starts itself.
    before = set(threading.enumerate())
    monkeypatch.setattr(chain, "_may_fork", lambda: set(threading.enumerate()) <= before)
    return started


def _both():
    alone = audit_verify(processes=1)
    parallel = audit_verify(processes=3, min_entries=2)
    return alone, parallel


def test_an_untouched_chain_verifies_in_three_stretches(forks):
    _fill()
    alone, parallel = _both()
    assert alone.ok and parallel == alone and parallel.count == N
    assert forks == [2]  # two forked processes, the third stretch walked here


def test_with_another_thread_running_the_chain_is_walked_in_this_process(forks):
    """A fork copies only the calling thread; a lock held by another thread would stay
    held in the child. So with another thread alive the walk forks nothing, and the
    verdict (here of a broken chain, too) is the sequential one."""
    _fill()
    release = threading.Event()
    other = threading.Thread(target=release.wait, name="other-work")
    other.start()
    try:
        parallel = audit_verify(processes=3, min_entries=2)
        _change_payload(15)
        broken = audit_verify(processes=3, min_entries=2)
    finally:
        release.set()
        other.join()
    assert forks == []
    assert parallel.ok and parallel.count == N
    assert not broken.ok and broken.first_bad_seq == 15
    assert broken == audit_verify(processes=1)
    # Once the thread is gone, the walk forks again.
    audit_verify(processes=3, min_entries=2)
    assert forks == [2]


def test_a_short_chain_is_walked_alone(forks):
    _fill()
    assert audit_verify().ok  # below PARALLEL_MIN_ENTRIES
    assert forks == []


def _change_payload(seq: int) -> None:
    _sql(
        "UPDATE audit_auditentry SET payload = replace(payload, '\"i\":', '\"i\":9') "
        "WHERE seq = %s",
        seq,
    )


def _rehash(seq: int) -> None:
    """Change an entry and recompute its own hash: the next entry's link breaks."""
    row = AuditEntry.objects.get(seq=seq)
    payload = row.payload.replace('"i":', '"i":7')
    _sql(
        "UPDATE audit_auditentry SET payload = %s, hash = %s WHERE seq = %s",
        payload,
        entry_hash(row.prev_hash, payload),
        seq,
    )


def _delete(seq: int) -> None:
    _sql("DELETE FROM audit_auditentry WHERE seq = %s", seq)


def _actor(seq: int) -> None:
    _sql("UPDATE audit_auditentry SET actor = 'user:evil' WHERE seq = %s", seq)


def _below_one(seq: int) -> None:
    _sql("UPDATE audit_auditentry SET seq = 0 WHERE seq = %s", seq)


COLUMNS = "seq, at, action, actor, subject, payload, prev_hash, hash, withholding_id"


def _put_back(rows: list[tuple]) -> None:
    _sql("DELETE FROM audit_auditentry")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO audit_auditentry ({COLUMNS}) VALUES ({', '.join(['%s'] * 9)})",  # noqa: S608
            rows,
        )


def test_a_change_anywhere_gets_the_sequential_verdict(forks):
    """Each change at the first, middle and last entry of each stretch (one chain,
    put back after each), the verdict of three stretches is the sequential one."""
    _fill()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM audit_auditentry ORDER BY seq")  # noqa: S608
        original = cursor.fetchall()
    checked = 0
    for tamper in (_change_payload, _rehash, _delete, _actor):
        for seq in (1, 5, 10, 11, 20, 21, 30):
            tamper(seq)
            alone, parallel = _both()
            assert not alone.ok, (tamper.__name__, seq)
            assert alone.first_bad_seq in (seq, seq + 1), (tamper.__name__, seq)
            assert parallel == alone, (tamper.__name__, seq)
            _put_back(original)
            checked += 1
    assert audit_verify(processes=3, min_entries=2).ok
    assert checked == 28 and forks == [2] * (checked + 1)


def test_a_whole_stretch_deleted_is_named_as_its_first_missing_entry(forks):
    _fill()
    _sql("DELETE FROM audit_auditentry WHERE seq BETWEEN 9 AND 22")
    alone, parallel = _both()
    assert alone.first_bad_seq == 9 and "missing (next is #23)" in alone.problem
    assert parallel == alone


def test_a_row_numbered_below_one_is_a_break(forks):
    _fill()
    _below_one(1)
    alone, parallel = _both()
    assert not alone.ok and alone.first_bad_seq == 1
    assert parallel == alone
