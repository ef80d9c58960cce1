"""Batch writers' plain inserts (kluis.rows): every value stored as given, in order, and
on PostgreSQL a batch in one statement of one array per column (the audit chain's from
50 entries on; a request's few entries go as VALUES)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kluis.audit.chain import Event, audit_append_many, audit_verify
from kluis.audit.disclosures import Sent, disclosures_insert
from kluis.audit.models import AuditEntry, Disclosure
from kluis.policy.enforce import Actor

pytestmark = pytest.mark.django_db(databases="__all__")

FINANCE = Actor.staff("u-fin", {"finance"})
# Text an array literal would have to escape: quotes, braces, commas, backslashes, the
# word NULL, an empty string, spaces at the ends, non-ASCII.
AWKWARD = ['a "b" {c}, d', "e\\f", "NULL", "", " g ", "Zoë's ,}{"]
MANY = 1_200  # more than one VALUES statement's 500 rows


def _statements(ctx: CaptureQueriesContext, table: str) -> list[str]:
    """The INSERT statements into `table` among the captured ones."""
    return [q["sql"] for q in ctx.captured_queries if f'INSERT INTO "{table}"' in q["sql"]]


def test_a_ledger_batch_is_stored_value_for_value_in_order():
    subjects = [uuid.uuid4() for _ in range(MANY)]
    sends = [
        Sent(
            subject,
            "debt_collector",
            "collections",
            ["user.name", "user.contact.address"],
            FINANCE,
            f"{AWKWARD[i % len(AWKWARD)]} {i}",
        )
        for i, subject in enumerate(subjects)
    ]
    with CaptureQueriesContext(connection) as ctx:
        disclosures_insert(sends)
    stored = list(
        Disclosure.objects.order_by("pk").values_list(
            "subject", "reference", "categories", "withholding_id"
        )
    )
    expected: list[tuple[object, ...]] = [
        (s, f"{AWKWARD[i % len(AWKWARD)]} {i}", ["user.contact.address", "user.name"], None)
        for i, s in enumerate(subjects)
    ]
    assert [tuple(row) for row in stored] == expected
    inserts = _statements(ctx, Disclosure._meta.db_table)
    # PostgreSQL: one statement of one array per column, however many rows; elsewhere
    # one multi-row VALUES per 500 rows.
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 3)


def test_a_large_audit_append_is_one_statement_on_postgresql_and_verifies():
    events = [
        Event("test", "system:test", uuid.uuid4() if i % 2 else None, {"t": AWKWARD[i % 6]})
        for i in range(MANY)
    ]
    with CaptureQueriesContext(connection) as ctx:
        entries = audit_append_many(events)
    assert [e.seq for e in entries] == list(range(entries[0].seq, entries[0].seq + MANY))
    stored = list(AuditEntry.objects.order_by("seq").values_list("subject", "payload", "hash"))
    assert stored == [(e.subject, e.payload, e.hash) for e in entries]
    assert audit_verify().ok
    inserts = _statements(ctx, AuditEntry._meta.db_table)
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 3)


def test_repeated_batches_leave_no_prepared_statement_on_the_server():
    """The bound cursor sends parameters apart from the statement, yet prepares nothing:
    Django opens connections with psycopg's prepare_threshold off, and a prepared plan
    would outlive a migration's ALTER TABLE and a transaction-mode pooler's session."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    for i in range(8):
        audit_append_many([Event("test.batch", "system:test", data={"i": i})] * 60)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0
    assert audit_verify().ok
