"""The shred journal: every data key ever shredded, kept apart from the keystore.

A keystore backup holds keys that were live when it was taken. Restored after a
shred, it would bring the shredded key back. So every shred is first appended here
(one JSON line per key, fsynced before the keystore row is overwritten), and
`manage.py restore` shreds again every key the journal names before kluis serves.

The journal holds no personal data: a subject id (a random UUID), a retention class
and a period. Keep it on other storage than the keystore and its backups, like the
audit witness directory (KLUIS_SHRED_JOURNAL); `manage.py backup` copies it too.
Appending is idempotent in effect: shredding a key twice changes nothing.

The second record lives with the main database (`record_shreds`): a `ShredRecord` row
per scope and one `vault.shredded` entry in the audit chain per shred call, written
in the caller's transaction on the main database. The file comes first and is
fsynced on its own, so it holds a shred even when the caller's transaction rolls back
after the keystore was overwritten; the rows and the entry then go with the rollback.
The main database's rows matter when the files are lost: the keystore is backed up
before the main database, so a main-database backup names every shred its keystore
backup can still hold, including those made while the backup ran.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

if TYPE_CHECKING:
    from kluis.vault.keys import KeyScope


def journal_path() -> Path:
    return Path(settings.KLUIS_SHRED_JOURNAL)


def journal_append(scopes: Iterable[KeyScope], *, path: Path | None = None) -> None:
    """Append the scopes and fsync; raises OSError (e.g. a full disk) before any shred."""
    path = path or journal_path()
    at = timezone.now().isoformat()
    lines = "".join(
        json.dumps(
            {"subject": str(s.subject), "class": s.retention_class, "period": s.period, "at": at},
            sort_keys=True,
        )
        + "\n"
        for s in scopes
    )
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        data = lines.encode()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


def journal_read(path: Path | None = None) -> Iterator[KeyScope]:
    """Every scope in the journal, in order. A torn last line (a crash mid-write) is
    skipped: its shred had not started, since the keystore is written after the fsync."""
    from kluis.vault.keys import KeyScope

    path = path or journal_path()
    if not path.exists():
        return
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            try:
                doc = json.loads(raw)
                yield KeyScope(uuid.UUID(doc["subject"]), doc["class"], doc.get("period", ""))
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{path}: unreadable line {raw[:80]!r}") from None


ACTION = "vault.shredded"
ACTOR = "system:vault"


def scopes_digest(scopes: Iterable[KeyScope]) -> str:
    """SHA-256 of the sorted "subject|class|period" lines: what a shred's audit entry
    carries instead of the list, which a sweep of thousands of keys would make large."""
    lines = sorted(f"{s.subject}|{s.retention_class}|{s.period}" for s in scopes)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def record_shreds(scopes: list[KeyScope]) -> None:
    """The second record of a shred: a row per scope and one audit entry, in the main
    database, inside the caller's transaction if there is one.

    The entry names the subject when the call shreds one person's keys (as other
    entries do, pseudonymously); for more it carries the count per class and
    `scopes_sha256` over the rows, which carry the entry's number.
    """
    from kluis.audit.chain import audit_append

    if not scopes:
        return
    subjects = {s.subject for s in scopes}
    with transaction.atomic(savepoint=False):
        entry = audit_append(
            action=ACTION,
            actor=ACTOR,
            subject=next(iter(subjects)) if len(subjects) == 1 else None,
            data={
                "keys": len(scopes),
                "classes": dict(sorted(Counter(s.retention_class for s in scopes).items())),
                "scopes_sha256": scopes_digest(scopes),
            },
        )
        _insert_records(scopes, entry.at, entry.seq)


def recorded_scopes(using: str = "default") -> Iterator[KeyScope]:
    """Every scope the main database's shred records name, oldest first."""
    from kluis.vault.keys import KeyScope
    from kluis.vault.models import ShredRecord

    rows = ShredRecord.objects.using(using).order_by("pk")
    for subject, retention_class, period in rows.values_list(
        "subject", "retention_class", "period"
    ).iterator(chunk_size=5000):
        yield KeyScope(subject, retention_class, period)


def take_over(scopes: list[KeyScope]) -> int:
    """Rows for scopes that only a journal file names (after a restore), without an
    audit entry: the chain's entries for them were lost with the newer main database."""

    known = set(recorded_scopes())
    missing = [s for s in dict.fromkeys(scopes) if s not in known]
    now = timezone.now()
    _insert_records(missing, now, None)
    return len(missing)


def _insert_records(scopes: list[KeyScope], at: dt.datetime, audit_seq: int | None) -> None:
    """Insert shred records as multi-row statements (kluis.rows): the ORM's bulk_create
    spent most of a 10,000-key shred preparing each value of each row."""
    from kluis.rows import rows_insert
    from kluis.vault.models import ShredRecord

    columns = ("subject", "retention_class", "period", "shredded_at", "audit_seq")
    rows_insert(
        ShredRecord,
        columns,
        [(s.subject, s.retention_class, s.period, at, audit_seq) for s in scopes],
    )


def _record_groups() -> Iterator[tuple[int, list[KeyScope]]]:
    """The shred records that name an audit entry, grouped by it, in the entries' order."""
    from kluis.vault.keys import KeyScope
    from kluis.vault.models import ShredRecord

    rows = (
        ShredRecord.objects.filter(audit_seq__isnull=False)
        .order_by("audit_seq")
        .values_list("audit_seq", "subject", "retention_class", "period")
    )
    for number, group in itertools.groupby(rows.iterator(chunk_size=5000), key=itemgetter(0)):
        if number is not None:
            yield number, [KeyScope(s, c, p) for _, s, c, p in group]


def records_verify() -> list[str]:
    """Each `vault.shredded` entry against the rows carrying its number: a row removed
    from (or added to) the table after the shred changes the digest. Problems, if any.
    Both are read in the entries' order, so memory holds one shred's rows at a time."""
    from kluis.audit.models import AuditEntry

    problems = []
    groups = _record_groups()
    pending = next(groups, None)

    def no_shred(group: tuple[int, list[KeyScope]]) -> str:
        return f"{len(group[1])} shred records name audit entry #{group[0]}, which is no shred"

    entries = AuditEntry.objects.filter(action=ACTION).order_by("seq").values_list("seq", "payload")
    for seq, payload in entries.iterator(chunk_size=2000):
        while pending is not None and pending[0] < seq:
            problems.append(no_shred(pending))
            pending = next(groups, None)
        found: list[KeyScope] = []
        if pending is not None and pending[0] == seq:
            found = pending[1]
            pending = next(groups, None)
        data = json.loads(payload)["data"]
        if len(found) != data["keys"] or scopes_digest(found) != data["scopes_sha256"]:
            problems.append(
                f"audit entry #{seq} shredded {data['keys']} keys; the shred records "
                f"of it are {len(found)} and do not match its digest"
            )
    while pending is not None:
        problems.append(no_shred(pending))
        pending = next(groups, None)
    return problems
