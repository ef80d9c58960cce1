"""Appends from concurrent requests never fork the chain (SQLite and PostgreSQL)."""

import threading

import pytest
from django.db import connections

from kluis.audit.chain import audit_append, audit_verify
from kluis.audit.models import AuditEntry

THREADS = 6
PER_THREAD = 25


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_appends_form_one_unbroken_chain():
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                audit_append(action="test.concurrent", actor=f"system:t{n}", data={"i": i})
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = audit_verify()
    assert verdict.ok, verdict.problem
    seqs = list(AuditEntry.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert AuditEntry.objects.filter(action="test.concurrent").count() == THREADS * PER_THREAD
