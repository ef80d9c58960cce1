"""The shred journal: every data key ever shredded, kept apart from the keystore.

A keystore backup holds keys that were live when it was taken. Restored after a
shred, it would bring the shredded key back. So every shred is first appended here
(one JSON line per key, fsynced before the keystore row is overwritten), and
`manage.py restore` shreds again every key the journal names before kluis serves.

The journal holds no personal data: a subject id (a random UUID), a retention class
and a period. Keep it on other storage than the keystore and its backups, like the
audit witness directory (KLUIS_SHRED_JOURNAL); `manage.py backup` copies it too.
Appending is idempotent in effect: shredding a key twice changes nothing.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
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
