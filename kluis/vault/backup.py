"""Backups of the main database and the keystore, and a restore in which shreds survive.

`backup(DIR)` writes, in this order:
1. the keystore (SQLite's online backup API, or `pg_dump -Fc`);
2. a copy of the shred journal (journal.py);
3. the main database;
4. manifest.json: each file's SHA-256 and size, the time, the kluis version and the
   audit chain's head. The master key is never written: a backup opens only with
   the key file kept elsewhere.

`restore(DIR)` puts both databases back into an empty location (new SQLite files, or
empty PostgreSQL databases), then shreds again every key named in the live shred
journal and in the backup's copy of it, and, once the main database is back, every
key its shred records name (the `ShredRecord` table, journal.py). The keystore was
backed up first, so every shred after its snapshot is in one of the journal files, and
those made before the main database's snapshot are in its table too: the table is
what still knows them when both files are lost. Every journalled key is shredded
again, not only those newer than the keystore's snapshot: a replay of a shred the
snapshot already holds changes nothing, and no clock has to be trusted. Only then is
the audit chain verified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connections
from django.utils import timezone

from kluis.vault.journal import (
    journal_append,
    journal_path,
    journal_read,
    recorded_scopes,
    take_over,
)
from kluis.vault.routers import KEYSTORE

MANIFEST = "manifest.json"
JOURNAL_COPY = "shred-journal.jsonl"
FILES = {"default": "main", KEYSTORE: "keystore"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for the operator."""


def _vendor(alias: str) -> str:
    engine = str(connections[alias].settings_dict["ENGINE"])
    if engine.endswith("sqlite3"):
        return "sqlite"
    if "postgresql" in engine:
        return "postgresql"
    raise BackupError(f"database {alias}: no backup for engine {engine}")


def _file_name(alias: str) -> str:
    return FILES[alias] + (".sqlite3" if _vendor(alias) == "sqlite" else ".pgdump")


def _pg_env(config: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    args = []
    if config.get("HOST"):
        args += ["--host", str(config["HOST"])]
    if config.get("PORT"):
        args += ["--port", str(config["PORT"])]
    if config.get("USER"):
        args += ["--username", str(config["USER"])]
    env = dict(os.environ)
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = str(config["PASSWORD"])
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    # The programs are fixed (pg_dump, pg_restore); the arguments come from settings.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:500]}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dump(alias: str, dest: Path) -> None:
    config = connections[alias].settings_dict
    if _vendor(alias) == "sqlite":
        # The online backup API copies a consistent snapshot while others write.
        source = sqlite3.connect(str(config["NAME"]), timeout=30)
        target = sqlite3.connect(str(dest))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        args, env = _pg_env(config)
        _run(["pg_dump", "--format=custom", "--no-owner", *args, "--file", str(dest),
              str(config["NAME"])], env)  # fmt: skip
    _fsync(dest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _audit_head() -> dict[str, Any]:
    from kluis.audit.models import AuditEntry

    head = AuditEntry.objects.order_by("-seq").values("seq", "hash").first()
    return {"seq": head["seq"], "hash": head["hash"]} if head else {"seq": 0, "hash": ""}


def backup(directory: Path) -> dict[str, Any]:
    """Write a backup into `directory`, which must not exist or be empty."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: a backup goes into a new directory")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    keystore_at = timezone.now()
    for alias in (KEYSTORE, "default"):  # the keystore first: see the module's docstring
        name = _file_name(alias)
        if alias == "default":
            live = journal_path()
            if not live.exists():
                # No shred yet: start the journal, so that its absence at a restore
                # always means it was lost.
                live.parent.mkdir(parents=True, exist_ok=True)
                live.touch(mode=0o600)
            copy = directory / JOURNAL_COPY
            shutil.copyfile(live, copy)
            _fsync(copy)
            files[JOURNAL_COPY] = {"sha256": _sha256(copy), "bytes": copy.stat().st_size}
        _dump(alias, directory / name)
        files[name] = {
            "sha256": _sha256(directory / name),
            "bytes": (directory / name).stat().st_size,
            "database": alias,
            "vendor": _vendor(alias),
        }
    taken_at = timezone.now()
    manifest = {
        "kluis": "0.1.0",
        "taken_at": taken_at.isoformat(),
        "keystore_taken_at": keystore_at.isoformat(),
        **_keep_until(keystore_at, taken_at),
        "audit_head": _audit_head(),
        "files": files,
        "master_key": "not included: restore needs the master key kept elsewhere",
    }
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _fsync(path)
    return manifest


def _keep_until(keystore_at: dt.datetime, taken_at: dt.datetime) -> dict[str, str]:
    """The last moments the policy lets this backup's parts be kept (security.backups)."""
    from kluis.policy.loader import current_policy

    kept = current_policy().security.backups
    if kept is None:
        return {}
    return {
        "keystore_keep_until": (keystore_at + dt.timedelta(days=kept.keystore_days)).isoformat(),
        "database_keep_until": (taken_at + dt.timedelta(days=kept.database_days)).isoformat(),
    }


def past_retention(manifest: dict[str, Any], now: dt.datetime) -> list[str]:
    """The parts of a backup kept longer than the policy allowed when it was taken."""
    late = []
    for part in ("keystore", "database"):
        until = manifest.get(f"{part}_keep_until")
        if until and dt.datetime.fromisoformat(until) < now:
            late.append(f"the {part} (kept until {until})")
    return late


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except OSError as exc:
        raise BackupError(f"{path}: {exc.strerror}") from None
    except ValueError:
        raise BackupError(f"{path} is not a kluis backup manifest") from None
    for name, meta in manifest["files"].items():
        file = directory / name
        if not file.exists():
            raise BackupError(f"{file} is missing from the backup")
        if _sha256(file) != meta["sha256"]:
            raise BackupError(f"{file} does not match its hash in the manifest: damaged")
    return manifest


def _is_empty(alias: str) -> bool:
    config = connections[alias].settings_dict
    if _vendor(alias) == "sqlite":
        path = Path(str(config["NAME"]))
        return not path.exists() or path.stat().st_size == 0
    return not connections[alias].introspection.table_names()


def _load(alias: str, source: Path) -> None:
    config = connections[alias].settings_dict
    connections[alias].close()
    if _vendor(alias) == "sqlite":
        target_path = Path(str(config["NAME"]))
        target_path.parent.mkdir(parents=True, exist_ok=True)
        # Into a temporary file beside it, then renamed: a restore cut short leaves no
        # half database where kluis would open it.
        fd, partial = tempfile.mkstemp(dir=target_path.parent, prefix=".restore-")
        os.close(fd)
        backup_db = sqlite3.connect(str(source))
        target = sqlite3.connect(partial)
        try:
            backup_db.backup(target)
        finally:
            target.close()
            backup_db.close()
        _fsync(Path(partial))
        os.replace(partial, target_path)
    else:
        args, env = _pg_env(config)
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", *args,
              "--dbname", str(config["NAME"]), str(source)], env)  # fmt: skip


@dataclass
class Restored:
    manifest: dict[str, Any]
    journal_entries: int
    reshredded: int
    # Scopes only the restored main database's shred records named.
    recorded_only: int = 0
    # Scopes only the journal files named, now recorded in the main database too.
    taken_over: int = 0


def _journal_scopes(directory: Path) -> Iterator[Any]:
    yield from journal_read(directory / JOURNAL_COPY)
    yield from journal_read(journal_path())


def restore(
    directory: Path, *, live_journal_lost: bool = False, past_retention_ok: bool = False
) -> Restored:
    """Restore a backup into empty databases and re-apply every journalled shred.

    Without the live journal, shreds made after the backup cannot be re-applied; that
    must be said out loud (`live_journal_lost`), not found out later. Likewise a backup
    kept longer than the policy's `security.backups` should no longer exist: it is
    refused unless that is said too (`past_retention_ok`).
    """
    from kluis.vault.keys import shred

    manifest = read_manifest(directory)
    late = past_retention(manifest, timezone.now())
    if late and not past_retention_ok:
        raise BackupError(
            f"this backup is older than the privacy policy lets us keep it: {', '.join(late)}. "
            "It should have been destroyed; restore it only if there is no other, with "
            "--past-retention"
        )
    if not journal_path().exists() and not live_journal_lost:
        raise BackupError(
            f"the live shred journal {journal_path()} is missing: keys shredded after this "
            "backup would come back. Restore it from its own storage first, or, if it is "
            "truly lost, run restore with --live-journal-lost"
        )
    by_alias = {meta["database"]: name for name, meta in manifest["files"].items()
                if "database" in meta}  # fmt: skip
    for alias in (KEYSTORE, "default"):
        if manifest["files"][by_alias[alias]]["vendor"] != _vendor(alias):
            raise BackupError(f"the backup of {alias} is not for {_vendor(alias)}")
        if not _is_empty(alias):
            raise BackupError(
                f"database {alias} is not empty: restore goes into an empty location "
                "(new SQLite files or freshly created PostgreSQL databases)"
            )
    # The keystore first, and its shreds re-applied before the main database (and so
    # kluis) has anything to open with it.
    _load(KEYSTORE, directory / by_alias[KEYSTORE])
    scopes = list(dict.fromkeys(_journal_scopes(directory)))
    reshredded = shred(scopes, journal=False)
    _load("default", directory / by_alias["default"])
    # The restored main database's shred records: shreds made between the keystore's
    # snapshot and its own, which a lost journal file no longer names.
    in_files = set(scopes)
    only_recorded = [s for s in dict.fromkeys(recorded_scopes()) if s not in in_files]
    reshredded += shred(only_recorded, journal=False)
    if not journal_path().exists() and (directory / JOURNAL_COPY).stat().st_size:
        # The live journal was lost with the rest: the backup's copy starts it again.
        shutil.copyfile(directory / JOURNAL_COPY, journal_path())
    # Each record completes the other: the file learns what only the table knew, and
    # the table what only the files knew (shreds after the main database's snapshot).
    journal_append(only_recorded)
    taken_over = take_over(scopes)
    return Restored(
        manifest=manifest,
        journal_entries=len(scopes) + len(only_recorded),
        reshredded=reshredded,
        recorded_only=len(only_recorded),
        taken_over=taken_over,
    )
