"""Appending to and verifying the audit chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from json.encoder import encode_basestring as encode_json_string
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from kluis.audit.models import GENESIS, AuditEntry, AuditHead
from kluis.audit.withholding import current_withholding_id
from kluis.rows import bound_cursor, unnest


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    action: str
    actor: str
    subject: uuid.UUID | None = None
    data: dict[str, Any] | None = None
    # A matter the subject may not be told of yet (kluis.audit.withholding).
    withholding: int | None = None


def audit_append(
    *,
    action: str,
    actor: str,
    subject: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    return audit_append_many([Event(action, actor, subject, data)])[0]


def audit_append_many(events: Iterable[Event]) -> list[AuditEntry]:
    """Append events in order, inside the caller's transaction if there is one.

    The head row is locked first, so concurrent appends queue and the chain never
    forks; no savepoint of its own, since a failed append fails the whole change.
    """
    events = list(events)
    if not events:
        return []
    withheld = current_withholding_id()
    with transaction.atomic(savepoint=False):
        seq, prev = _locked_head()
        now = timezone.now()
        at = now.isoformat()
        entries = []
        for event in events:
            seq += 1
            subject = str(event.subject) if event.subject else None
            payload = canonical(
                {
                    "seq": seq,
                    "at": at,
                    "action": event.action,
                    "actor": event.actor,
                    "subject": subject,
                    "data": event.data or {},
                }
            )
            digest = entry_hash(prev, payload)
            entries.append(
                AuditEntry(
                    seq=seq,
                    at=now,
                    action=event.action,
                    actor=event.actor,
                    subject=event.subject,
                    payload=payload,
                    prev_hash=prev,
                    hash=digest,
                    withholding_id=event.withholding or withheld,
                )
            )
            prev = digest
        _write(entries, seq, prev)
    return entries


# Columns of an entry as _write inserts them; 500 rows per statement.
_COLUMNS = ("seq", "at", "action", "actor", "subject", "payload", "prev_hash", "hash")
_ROWS_PER_INSERT = 500
# From this many entries on PostgreSQL writes them as arrays (a batch job's ledger).
_ARRAY_FROM = 50


def _write(entries: list[AuditEntry], seq: int, head_hash: str) -> None:
    """Insert the entries and move the head, in as few round trips as the database allows.

    Every request that reveals or writes pays this, so it is plain SQL rather than
    bulk_create and update(): on PostgreSQL the last rows and the head move in one
    statement (a data-modifying WITH), which with the head's locking read makes two
    round trips per append instead of three.
    """
    connection = connections[AuditEntry.objects.db]
    meta = AuditEntry._meta
    at_field, subject_field = meta.get_field("at"), meta.get_field("subject")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in (*_COLUMNS, "withholding_id"))
    insert = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    row_marks = "(" + ", ".join(["%s"] * (len(_COLUMNS) + 1)) + ")"
    # One time for the whole batch (audit_append_many stamps every entry alike).
    at = at_field.get_db_prep_value(entries[0].at, connection)
    params = [
        (
            e.seq,
            at,
            e.action,
            e.actor,
            subject_field.get_db_prep_value(e.subject, connection),
            e.payload,
            e.prev_hash,
            e.hash,
            e.withholding_id,
        )
        for e in entries
    ]
    head = f"UPDATE {quote(AuditHead._meta.db_table)} SET seq = %s, hash = %s WHERE id = 1"  # noqa: S608
    if connection.vendor == "postgresql" and len(params) >= _ARRAY_FROM:
        # All rows as one array per column (kluis.rows.unnest), and the head moved in the
        # same statement: a few parameters, however many entries. A request's few
        # entries go as VALUES below: for them the arrays cost more (measured: one
        # append +0.67 ms against +0.41 ms over the bare insert).
        fields = [meta.get_field(c) for c in (*_COLUMNS, "withholding_id")]
        rows = f"SELECT * FROM {unnest(fields, connection)}"  # noqa: S608
        with bound_cursor(connection) as cursor:
            cursor.execute(
                f"WITH new AS ({insert.removesuffix(' VALUES ')} {rows}) {head}",
                [[row[i] for row in params] for i in range(len(fields))] + [seq, head_hash],
            )
        return
    with connection.cursor() as cursor:
        chunks = [params[i : i + _ROWS_PER_INSERT] for i in range(0, len(params), _ROWS_PER_INSERT)]
        for chunk in chunks[:-1]:
            cursor.execute(insert + ", ".join([row_marks] * len(chunk)), _flat(chunk))
        last = insert + ", ".join([row_marks] * len(chunks[-1]))
        if connection.vendor == "postgresql":
            cursor.execute(f"WITH new AS ({last}) {head}", [*_flat(chunks[-1]), seq, head_hash])
        else:
            cursor.execute(last, _flat(chunks[-1]))
            cursor.execute(head, [seq, head_hash])


def _flat(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


class ChainError(Exception):
    """The chain cannot be appended to safely."""


def _locked_head() -> tuple[int, str]:
    connection = connections[AuditHead.objects.db]
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    table = AuditHead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash FROM {table} WHERE id = 1{lock}")  # noqa: S608
        row = cursor.fetchone()
        if row is None:
            # A fresh (or flushed) database. Concurrent first appends may race here:
            # get_or_create lets exactly one insert the head and the others wait for
            # it, after which every one of them locks the same row.
            AuditHead.objects.get_or_create(pk=1)
            cursor.execute(f"SELECT seq, hash FROM {table} WHERE id = 1{lock}")  # noqa: S608
            row = cursor.fetchone()
    seq, head_hash = int(row[0]), str(row[1])
    # A chain with entries but an empty head was tampered with (the head removed or
    # reset), and appending would hide that. Checked under the lock, so a head that a
    # concurrent first append has just moved on is never mistaken for it.
    if seq == 0 and AuditEntry.objects.exists():
        raise ChainError("the audit head is missing while entries exist; run audit_verify")
    return seq, head_hash


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def _sqlite_columns_match(at: Any, subject: Any, doc: dict[str, Any]) -> bool:
    # SQLite keeps UTC datetimes as "YYYY-MM-DD HH:MM:SS[.ffffff]" (read here as text)
    # and UUIDs as hex; the payload has ISO 8601 with "+00:00" and dashed UUIDs.
    doc_at = doc["at"]
    if f"{doc_at[:10]} {doc_at[11:-6]}" != at:
        return False
    doc_subject = doc["subject"]
    same_subject: bool = (doc_subject.replace("-", "") if doc_subject else None) == subject
    return same_subject


def _native_columns_match(at: Any, subject: Any, doc: dict[str, Any]) -> bool:
    doc_subject = doc["subject"]
    same_subject: bool = doc_subject == (str(subject) if subject else None)
    return same_subject and dt.datetime.fromisoformat(doc["at"]) == at


def _pg_text_columns_match(at: str, subject: str | None, doc: dict[str, Any]) -> bool:
    # PostgreSQL's own text of the columns (see audit_verify): a dashed UUID, and in a
    # UTC session "YYYY-MM-DD HH:MM:SS[.fraction without trailing zeros]+00".
    if doc["subject"] != subject:
        return False
    doc_at: str = doc["at"]
    if doc_at.endswith("+00:00"):
        clock = doc_at[11:-6]
        if "." in clock:
            clock = clock.rstrip("0").rstrip(".")
        if f"{doc_at[:10]} {clock}+00" == at:
            return True
    # Any other rendering (a session in another time zone): compare the instants.
    try:
        return dt.datetime.fromisoformat(at) == dt.datetime.fromisoformat(doc_at)
    except ValueError:
        return False


def _text_loaders(cursor: Any) -> None:
    """Read timestamptz and uuid columns as PostgreSQL's text: building a datetime and
    a UUID per row cost three quarters of the walk (87,000 against 340,000 rows/s)."""
    _text_loaders_on(cursor.cursor)


def _columns_match_by_text(
    payload: str,
    seq: int,
    action: str,
    actor: str,
    subject: Any,
    at: Any,
    prefixes: dict[tuple[str, str], str],
    columns_match: Callable[[Any, Any, dict[str, Any]], bool],
) -> bool:
    """Whether the entry's columns are those of its payload, read from the payload's
    text without decoding it; False means "not confirmed", never "changed".

    `canonical` writes the keys sorted, so an entry's payload is
    `{"action":…,"actor":…,"at":"…",…,"seq":N,"subject":"…"}`: it must start with the
    action and actor as JSON encodes them and end with the sequence number and the
    subject. The last `,"seq":` is the top-level one (only the subject follows it), and
    the payload's last `}` closes the top-level object, so a match cannot come from a
    value nested in "data". Decoding every payload cost half the walk.
    """
    prefix = prefixes.get((action, actor))
    if prefix is None:
        prefix = (
            f'{{"action":{encode_json_string(action)},"actor":{encode_json_string(actor)},"at":"'
        )
        prefixes[(action, actor)] = prefix
    if not payload.startswith(prefix):
        return False
    tail = payload.rfind(',"seq":')
    seq_text = f',"seq":{seq},"subject":'
    if tail < 0 or not payload.startswith(seq_text, tail) or payload[-1] != "}":
        return False
    subject_text = payload[tail + len(seq_text) : -1]
    if subject_text == "null":
        doc_subject = None
    elif len(subject_text) == 38 and subject_text[0] == subject_text[-1] == '"':
        doc_subject = subject_text[1:-1]
    else:
        return False
    start = len(prefix)
    end = payload.find('"', start)
    if end < 0:
        return False
    return columns_match(at, subject, {"at": payload[start:end], "subject": doc_subject})


# Below this many entries a second process costs more than it saves.
PARALLEL_MIN_ENTRIES = 100_000


@dataclass(frozen=True)
class _Segment:
    """One stretch of the chain walked on its own (entries `start` … `end`, or to the
    last entry when `end` is None)."""

    start: int
    end: int | None
    count: int  # entries that held, from `start` on
    first_seq: int | None  # the first row's sequence number; None: no rows
    first_prev: str  # the first row's prev_hash ("" when no rows)
    last_hash: str  # the hash of the last entry that held
    bad_seq: int | None = None
    problem: str = ""


def _columns_check(vendor: str) -> Callable[[Any, Any, dict[str, Any]], bool]:
    if vendor == "sqlite":
        return _sqlite_columns_match
    if vendor == "postgresql":
        return _pg_text_columns_match
    return _native_columns_match


def _select(vendor: str, table: str, start: int, end: int | None) -> tuple[str, list[int]]:
    at_column = "CAST(at AS TEXT)" if vendor == "sqlite" else "at"
    sql = (
        "SELECT seq, prev_hash, hash, payload, action, actor, subject, "  # noqa: S608
        f"{at_column} FROM {table} WHERE TRUE"
    )
    params = []
    # The first stretch has no lower bound: a row numbered below 1 is named as a break.
    if start > 1:
        sql += " AND seq >= %s"
        params.append(start)
    if end is not None:
        sql += " AND seq <= %s"
        params.append(end)
    return sql + " ORDER BY seq", params


def _walk(
    cursor: Any, vendor: str, start: int, end: int | None, prev: str | None, chunk_size: int
) -> _Segment:
    """Walk entries `start` … `end`; stop at the first that does not hold.

    `prev` is the hash the first entry must link to; None (a stretch after the first,
    walked in parallel) takes the first row's link as given, and the caller checks it
    against the previous stretch's last hash.
    """
    columns_match = _columns_check(vendor)
    table = AuditEntry._meta.db_table
    expected_seq = start
    count = 0
    first_seq: int | None = None
    first_prev = ""
    sha256 = hashlib.sha256
    decode = json.JSONDecoder().raw_decode
    prefixes: dict[tuple[str, str], str] = {}
    sql, params = _select(vendor, table, start, end)
    cursor.execute(sql, params)
    while rows := cursor.fetchmany(chunk_size):
        for seq, prev_hash, digest, payload, action, actor, subject, at in rows:
            if first_seq is None:
                first_seq, first_prev = seq, prev_hash
                if prev is None:
                    prev = prev_hash
            problem = ""
            if seq != expected_seq:
                problem = f"entry #{expected_seq} is missing (next is #{seq})"
                seq = expected_seq
            elif prev_hash != prev:
                problem = f"entry #{seq} does not link to entry #{seq - 1}"
            elif sha256(f"{prev}\n{payload}".encode()).hexdigest() != digest:
                problem = f"entry #{seq} has been changed: its hash does not match its content"
            elif not _columns_match_by_text(
                payload, seq, action, actor, subject, at, prefixes, columns_match
            ):
                # The quick reading did not confirm the columns: decide on the decoded
                # payload, which also reads payloads of any other shape.
                doc = decode(payload)[0]
                if (
                    doc["seq"] != seq
                    or doc["action"] != action
                    or doc["actor"] != actor
                    or not columns_match(at, subject, doc)
                ):
                    problem = f"entry #{seq} has been changed: its columns differ from its payload"
            if problem:
                return _Segment(start, end, count, first_seq, first_prev, prev or "", seq, problem)
            prev = digest
            expected_seq += 1
            count += 1
    return _Segment(start, end, count, first_seq, first_prev, prev or "")


def _pg_walk_in_snapshot(
    alias: str, snapshot: str, start: int, end: int | None, chunk_size: int
) -> _Segment:
    """A stretch walked by a forked process, on a connection of its own, in the
    snapshot the parent exported: every stretch sees the same chain."""
    from psycopg import sql

    wrapper = connections[alias]
    # A new connection, leaving the one inherited from the parent untouched: closing
    # it here would end the parent's session. The process ends with os._exit.
    connection = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        connection.autocommit = True
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        connection.execute("SET LOCAL TIME ZONE 'UTC'")
        with connection.cursor(name="kluis_audit_verify") as cursor:
            _text_loaders_on(cursor)
            return _walk(cursor, "postgresql", start, end, None, chunk_size)
    finally:
        connection.close()


def _text_loaders_on(cursor: Any) -> None:
    from psycopg.types.string import TextLoader

    for type_name in ("timestamptz", "uuid"):
        cursor.adapters.register_loader(type_name, TextLoader)


def _joined(segments: list[_Segment]) -> tuple[Verdict | None, int, str]:
    """The stretches as one walk: the first problem in chain order, or (None, count,
    last hash) when every stretch held and each links to the one before."""
    count, prev = 0, GENESIS
    for index, segment in enumerate(segments):
        if index and segment.first_seq == segment.start and segment.first_prev != prev:
            problem = f"entry #{segment.start} does not link to entry #{segment.start - 1}"
            return Verdict(False, count, count, prev, segment.start, problem), count, prev
        if segment.bad_seq is not None:
            total = count + segment.count
            last = segment.last_hash if segment.count else prev
            return (
                Verdict(False, total, total, last, segment.bad_seq, segment.problem),
                total,
                last,
            )
        if segment.count:
            count, prev = count + segment.count, segment.last_hash
        full = segment.end is None or segment.count == segment.end - segment.start + 1
        if not full:
            # The stretch ended early: its next entry is missing, unless the chain ends.
            later = next((s.first_seq for s in segments[index + 1 :] if s.first_seq), None)
            if later is not None:
                missing = count + 1
                problem = f"entry #{missing} is missing (next is #{later})"
                return Verdict(False, count, count, prev, missing, problem), count, prev
    return None, count, prev


def audit_verify(
    *, chunk_size: int = 5000, processes: int | None = None, min_entries: int | None = None
) -> Verdict:
    """Walk the chain from the genesis; name the first entry that does not hold.

    Reads rows through a plain cursor (a server-side one on PostgreSQL), because the
    ORM's per-row conversions would cost more than the hashing itself. On PostgreSQL a
    long chain is cut into stretches walked in parallel, one per core (`processes`),
    by forked processes reading one exported snapshot (not while the process runs
    other threads, which a fork would leave behind: _may_fork); each stretch checks its own
    links and the join checks each stretch's first link against the previous one's
    last hash, so the verdict is the sequential walk's.
    """
    connection = connections[AuditEntry.objects.db]
    vendor = connection.vendor
    if vendor == "postgresql":
        return _pg_verify(
            connection,
            chunk_size,
            processes or os.cpu_count() or 1,
            PARALLEL_MIN_ENTRIES if min_entries is None else min_entries,
        )
    with connection.chunked_cursor() as cursor:
        segment = _walk(cursor, vendor, 1, None, GENESIS, chunk_size)
    head = AuditHead.objects.filter(pk=1).first() or AuditHead(seq=0, hash=GENESIS)
    return _verdict([segment], head.seq, head.hash)


def _verdict(segments: list[_Segment], head_seq: int, head_hash: str) -> Verdict:
    failed, count, prev = _joined(segments)
    if failed is not None:
        return failed
    if head_seq != count or head_hash != prev:
        last = count + 1 if head_seq > count else head_seq
        return Verdict(
            False,
            count,
            count,
            prev,
            last,
            f"the chain ends at #{count} but its head says #{head_seq}: entries were removed "
            "from the end or the head was altered",
        )
    return Verdict(True, count, count, prev)


def _pg_verify(connection: Any, chunk_size: int, processes: int, min_entries: int) -> Verdict:
    alias = connection.alias
    table = AuditEntry._meta.db_table
    head_table = AuditHead._meta.db_table
    # In a transaction of its own the walk reads one snapshot, which it can share with
    # the processes it forks; inside a caller's transaction (whose own writes another
    # session cannot see) it reads in that transaction, in this process alone.
    own = not connection.in_atomic_block
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            if own:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute(f"SELECT max(seq) FROM {table}")  # noqa: S608 - a table name
            last = cursor.fetchone()[0] or 0
            cursor.execute(f"SELECT seq, hash FROM {head_table} WHERE id = 1")  # noqa: S608
            head = cursor.fetchone() or (0, GENESIS)
        parts = max(1, min(processes, last // max(1, min_entries // 2)))
        if parts > 1 and own and _may_fork():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
            bounds = [1 + last * i // parts for i in range(parts)]
            ranges = [
                (bounds[i], bounds[i + 1] - 1 if i + 1 < parts else None) for i in range(parts)
            ]
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=parts - 1, mp_context=context) as pool:
                futures = [
                    pool.submit(_pg_walk_in_snapshot, alias, snapshot, start, end, chunk_size)
                    for start, end in ranges[1:]
                ]
                first = _pg_walk_here(connection, *ranges[0], chunk_size)
                segments = [first, *(f.result() for f in futures)]
        else:
            segments = [_pg_walk_here(connection, 1, None, chunk_size)]
    return _verdict(segments, head[0], head[1])


def _may_fork() -> bool:
    """Whether this process may fork the walk's helpers: only while it runs no other
    thread. A fork copies the calling thread alone, so a lock another thread holds at
    that moment (logging's, a connection's, the key cache's) stays held in the child
    for good, and the child can hang on it. Called from a threaded server or alongside
    threads of any kind, the chain is walked in this process alone; the verdict is the
    same, only slower."""
    return threading.active_count() == 1


def _pg_walk_here(connection: Any, start: int, end: int | None, chunk_size: int) -> _Segment:
    with connection.chunked_cursor() as cursor:
        _text_loaders(cursor)
        return _walk(cursor, "postgresql", start, end, GENESIS if start == 1 else None, chunk_size)
