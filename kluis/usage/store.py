"""Writing a chunk's tallies to the database, salts, and closing days."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone

from kluis.usage import hll
from kluis.usage.models import DaySecret, MailDay, MailQueue, PageDay, PendingMessage, SiteDay
from kluis.usage.nginx import MAX_PAGES, PAGE_VISITORS, WebTally
from kluis.usage.postfix import MailTally, Pending
from kluis.vault.master import master_ring
from kluis.vault.routers import KEYSTORE

M = TypeVar("M", bound=models.Model)

# A day stays open until the end of the next day, for late lines and slow shippers.
CLOSE_AFTER = dt.timedelta(days=1)
MARK = 8  # bytes per visitor hash in PageDay.marks


def last_closed_day(today: dt.date | None = None) -> dt.date:
    return (today or timezone.localdate()) - CLOSE_AFTER - dt.timedelta(days=1)


def _salt_context(day: dt.date) -> bytes:
    return f"kluis-usage-salt|{day.isoformat()}".encode()


def new_salt() -> bytes:
    """32 random bytes for a new day's salt."""
    return os.urandom(32)


def salt_for(day: dt.date, today: dt.date | None = None) -> bytes | None:
    """The day's salt, made on first use; None once the day is closed (never remade).

    It is kept in the keystore database, wrapped by the master key (`DaySecret`), so
    that every process that ingests (the worker, `logs_ingest`, the API's batches)
    hashes a visitor alike, and a backup of the main database does not hold it.
    """
    if day <= last_closed_day(today):
        return None
    ring = master_ring()
    row = DaySecret.objects.filter(day=day).first()
    if row is None:
        kid, wrapped = ring.wrap(new_salt(), context=_salt_context(day))
        try:
            with transaction.atomic(using=KEYSTORE):
                DaySecret.objects.create(day=day, wrapped=wrapped, master_kid=kid)
        except IntegrityError:
            pass  # another process made it first: use theirs
        row = DaySecret.objects.get(day=day)
    return ring.unwrap(row.master_kid, bytes(row.wrapped), context=_salt_context(day))


def salts_destroy(until: dt.date) -> int:
    """Delete the salts of the days up to `until` and make that final on disk.

    SQLite runs with secure_delete, and a truncating checkpoint empties the
    keystore's write-ahead log; on PostgreSQL the table is vacuumed so no dead row
    version keeps a salt. PostgreSQL's write-ahead log keeps the bytes until its
    segment is recycled, as it does for a shredded key (README, "Sealed data"); they
    are wrapped by the master key there.
    """
    deleted = DaySecret.objects.filter(day__lte=until).delete()[0]
    connection = connections[KEYSTORE]
    if deleted and not connection.in_atomic_block:
        table = connection.ops.quote_name(DaySecret._meta.db_table)
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            elif connection.vendor == "postgresql":
                cursor.execute(f"VACUUM {table}")
    return deleted


def _marks(raw: bytes | memoryview | None) -> set[bytes]:
    data = bytes(raw or b"")
    return {data[i : i + MARK] for i in range(0, len(data), MARK)}


WEB_FIELDS = [
    "requests",
    "bytes",
    "status_1xx",
    "status_2xx",
    "status_3xx",
    "status_4xx",
    "status_5xx",
]
MAIL_FIELDS = [
    "received",
    "received_bytes",
    "sent",
    "sent_bytes",
    "recipients",
    "deferred",
    "bounced",
]


def _update(model: type[models.Model], fields: list[str], rows: list[Any]) -> None:
    """Write `fields` of model instances by primary key."""
    _execute_many(model, "UPDATE", fields, [[getattr(r, f) for f in fields] + [r.pk] for r in rows])


def _execute_many(
    model: type[models.Model], verb: str, fields: list[str], values: list[list[Any]]
) -> None:
    """One prepared INSERT of `fields`, or UPDATE of `fields` by primary key (each
    row's last value), run for every row (executemany): what `bulk_create` and
    `bulk_update` (a CASE per field) do, without a model instance or an expression per
    value."""
    if not values:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns: list[models.Field[Any, Any]] = [
        model._meta.get_field(f)  # type: ignore[misc]
        for f in fields
    ]
    table = quote(model._meta.db_table)
    if verb == "INSERT":
        names = ", ".join(quote(c.column) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    else:
        sets = ", ".join(f"{quote(c.column)} = %s" for c in columns)
        sql = f"UPDATE {table} SET {sets} WHERE {quote('id')} = %s"  # noqa: S608
    params = [
        [c.get_db_prep_save(v, connection) for c, v in zip(columns, row, strict=False)]
        + row[len(columns) :]
        for row in values
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _add(
    model: type[M], owner: str, fields: list[str], days: Mapping[tuple[Any, dt.date], list[int]]
) -> tuple[dict[tuple[Any, dt.date], M], list[M], list[M]]:
    """Add counters to the rows of (owner, day), made where missing: rows, new, changed."""
    existing = {
        (getattr(row, owner), row.day): row  # type: ignore[attr-defined]
        for row in model._default_manager.filter(
            **{f"{owner}__in": {k[0] for k in days}, "day__in": {k[1] for k in days}}
        )
    }
    rows, new, changed = {}, [], []
    for key, counts in days.items():
        row = existing.get(key)
        if row is None:
            row = model(**{owner: key[0], "day": key[1]})
            new.append(row)
        else:
            changed.append(row)
        for name, value in zip(fields, counts, strict=True):
            setattr(row, name, getattr(row, name) + value)
        rows[key] = row
    return rows, new, changed


def write_web(tally: WebTally, salt: Callable[[dt.date], bytes | None]) -> None:
    """Add a chunk's web tallies; call inside the transaction that moves the offset."""
    if not tally.days:
        return
    rows, new, changed = _add(SiteDay, "site_id", WEB_FIELDS, tally.days)
    for key, sketch in tally.sketches.items():
        row = rows[key]
        if not row.closed:
            merged = hll.merge(bytes(row.sketch), sketch) if row.sketch else sketch
            row.sketch = bytes(merged)
            row.visitors = hll.estimate(merged)
    SiteDay.objects.bulk_create(new)
    _update(SiteDay, [*WEB_FIELDS, "sketch", "visitors"], changed)
    _write_pages(tally, salt)


def _write_pages(tally: WebTally, salt: Callable[[dt.date], bytes | None]) -> None:
    """Pages by their salted key; the path itself is written only once it qualifies,
    from the line that made it qualify, so an open day holds no rare path."""
    by_day: dict[tuple[int, dt.date], dict[str, tuple[bytes, list[Any]]]] = {}
    for (site, day), paths in tally.pages.items():
        secret = salt(day)
        if secret is None or not paths:
            continue
        by_day[(site, day)] = {
            hashlib.blake2b(raw, digest_size=16, key=secret).hexdigest(): (raw, page)
            for raw, page in paths.items()
        }
    if not by_day:
        return
    # The chunk's pages already in the table, as plain values (no model instances):
    # (site, day) -> key -> [id, requests, marks, qualified, path].
    known_rows: dict[tuple[int, dt.date], dict[str, list[Any]]] = defaultdict(dict)
    for pk, site_id, day_, key_, requests_, marks_, qualified_, path_ in PageDay.objects.filter(
        site_id__in={k[0] for k in by_day}, day__in={k[1] for k in by_day}
    ).values_list("id", "site_id", "day", "key", "requests", "marks", "qualified", "path"):
        known_rows[(site_id, day_)][key_] = [pk, requests_, marks_, qualified_, path_]
    new: list[list[Any]] = []
    changed: list[list[Any]] = []
    for (site, day), pages in by_day.items():
        rows = known_rows.get((site, day), {})
        room = MAX_PAGES - len(rows)
        for key, (raw, (requests, marks)) in pages.items():
            row = rows.get(key)
            if row is None:
                if room <= 0:
                    continue
                room -= 1
                row = [None, 0, None, False, ""]
                new.append([site, day, key, row])
            else:
                changed.append(row)
            row[1] += requests
            if not row[3]:
                known = _marks(row[2])
                for h in marks:
                    if len(known) >= PAGE_VISITORS:
                        break
                    known.add(h.to_bytes(MARK))
                if len(known) >= PAGE_VISITORS:
                    row[2], row[3], row[4] = None, True, raw.decode("utf-8", "replace")
                else:
                    row[2] = b"".join(sorted(known))
    fields = ["requests", "marks", "qualified", "path"]
    _execute_many(
        PageDay,
        "INSERT",
        ["site_id", "day", "key", *fields],
        [[site, day, key, *row[1:]] for site, day, key, row in new],
    )
    _execute_many(PageDay, "UPDATE", fields, [[*row[1:], row[0]] for row in changed])


def queue_lock(node: str) -> int:
    """Lock the node's queue state until the transaction ends; its version.

    Call inside the transaction that reads the node's pending messages and writes
    them back: a second batch or run of the node waits here (PostgreSQL: the row
    lock; SQLite: its transactions take the write lock at BEGIN) and, once let in,
    sees by the version whether the state it holds in memory is still current.
    """
    assert transaction.get_connection().in_atomic_block, "queue_lock outside a transaction"
    MailQueue.objects.get_or_create(node=node)
    return MailQueue.objects.select_for_update().values_list("version", flat=True).get(node=node)


def write_mail(
    tally: MailTally, node: str, pending: dict[bytes, Pending], stored: set[bytes]
) -> int:
    """Add a chunk's mail tallies and save the queue state it changed; the queue's
    new version. Call after `queue_lock(node)`, in the same transaction."""
    if tally.days:
        _rows, new, changed = _add(MailDay, "mailbox_id", MAIL_FIELDS, tally.days)
        MailDay.objects.bulk_create(new)
        _update(MailDay, MAIL_FIELDS, changed)
    removed = [q.decode() for q in tally.removed]
    for i in range(0, len(removed), 500):
        PendingMessage.objects.filter(node=node, queue_id__in=removed[i : i + 500]).delete()
    rows = [
        PendingMessage(
            node=node,
            queue_id=q.decode(),
            sender_id=pending[q].sender,
            size=pending[q].size,
            counted=pending[q].counted,
            seen=pending[q].seen,
        )
        for q in tally.changed
        if q in pending
    ]
    PendingMessage.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["node", "queue_id"],
        update_fields=["sender", "size", "counted", "seen"],
    )
    stored.difference_update(tally.removed)
    stored.update(q for q in tally.changed if q in pending)
    tally.changed.clear()
    tally.removed.clear()
    MailQueue.objects.filter(node=node).update(version=models.F("version") + 1)
    return int(MailQueue.objects.values_list("version", flat=True).get(node=node))


def load_pending(node: str) -> dict[bytes, Pending]:
    rows = PendingMessage.objects.filter(node=node).order_by("seen", "id")
    return {
        r.queue_id.encode(): Pending(r.sender_id, r.size, r.counted, r.seen)
        for r in rows.iterator()
    }


def days_close(today: dt.date | None = None) -> int:
    """Close every open day up to the last closed one: final visitor figures, pages
    below 5 visitors dropped, sketches and marks cleared, then the days' salts
    destroyed (in the keystore, after the main database's transaction)."""
    limit = last_closed_day(today)
    closed = 0
    with transaction.atomic():
        for row in SiteDay.objects.filter(closed=False, day__lte=limit):
            if row.sketch:
                row.visitors = hll.estimate(bytes(row.sketch))
            row.sketch, row.closed = None, True
            row.save(update_fields=["visitors", "sketch", "closed"])
            closed += 1
        PageDay.objects.filter(day__lte=limit, qualified=False).delete()
    # Once the hashes of those days are gone, so is what made them.
    salts_destroy(limit)
    return closed
