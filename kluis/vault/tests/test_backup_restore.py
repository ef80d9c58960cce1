"""The backup drill (issue 17): back up, erase one customer and let the sweep shred
another, restore both backups into an empty location, and neither person's data opens
while everything else does and the audit chain verifies.

Restore and the reading afterwards run in processes of their own against new database
files (on PostgreSQL: two freshly created databases on the test server, dropped
afterwards), as an operator would run them; the shred journal is the only thing that
knows about the shreds after the backup.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from kluis.rights import services, sweep
from kluis.testing import make_customer
from kluis.vault.journal import journal_read

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

READER = """
import json, sys
import django
django.setup()
from kluis.accounts.models import Customer
from kluis.audit.chain import audit_verify
from kluis.vault.errors import KeyShredded
out = {}
index = Customer._meta.get_field("email_index")
for arg in sys.argv[1:]:
    if "@" in arg:  # an address: does the restored blind index still know it?
        out[arg] = Customer.objects.filter(email_index=index.lookup_value(arg)).exists()
        continue
    try:
        out[arg] = Customer.objects.get(pk=arg).name.open()
    except KeyShredded:
        out[arg] = "SHREDDED"
out["audit_ok"] = audit_verify().ok
print(json.dumps(out))
"""


def _on_sqlite() -> bool:
    return str(settings.DATABASES["default"]["ENGINE"]).endswith("sqlite3")


def _pg_url(config: dict[str, Any], name: str) -> str:
    user = str(config.get("USER") or "")
    password = str(config.get("PASSWORD") or "")
    auth = f"{quote(user)}:{quote(password)}@" if password else (f"{quote(user)}@" if user else "")
    return (
        f"postgres://{auth}{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{name}"
    )


@pytest.fixture
def empty_databases() -> Iterator[Callable[[], tuple[str, str]]]:
    """On PostgreSQL: makes two freshly created, empty databases on the test server for a
    restore (main and keystore), and drops them afterwards. Returns their URLs."""
    made: list[str] = []
    config = settings.DATABASES["default"]

    def admin() -> Any:
        import psycopg

        return psycopg.connect(_pg_url(config, "postgres"), autocommit=True)

    def make() -> tuple[str, str]:
        names = [f"{config['NAME']}_drill_{secrets.token_hex(4)}_{part}" for part in ("main", "ks")]
        with admin() as connection:
            for name in names:
                connection.execute(f'CREATE DATABASE "{name}"')
                made.append(name)
        return _pg_url(config, names[0]), _pg_url(config, names[1])

    yield make
    if made:
        with admin() as connection:
            for name in made:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(target: Path, journal: Path, databases: Callable[[], tuple[str, str]]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KLUIS_", "DJANGO_")) and k not in ("DATABASE_URL", "EMAIL_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="kluis.settings",
        KLUIS_VAR_DIR=str(target),
        KLUIS_MASTER_KEY_FILE=str(settings.KLUIS_MASTER_KEY_FILE),
        KLUIS_POLICY_DIR=str(settings.KLUIS_POLICY_DIR),
        KLUIS_AUDIT_WITNESS_DIR=str(target / "witness"),
        KLUIS_SHRED_JOURNAL=str(journal),
        EMAIL_URL="locmem://",
    )
    if _on_sqlite():
        env["DATABASE_URL"] = f"sqlite:///{target}/kluis.sqlite3"
        env["KLUIS_KEYSTORE_URL"] = f"sqlite:///{target}/keystore.sqlite3"
    else:  # PostgreSQL: restore goes into freshly created, empty databases
        env["DATABASE_URL"], env["KLUIS_KEYSTORE_URL"] = databases()
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _read(env: dict[str, str], *pks: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", READER, *pks],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_the_backup_drill_shreds_survive_a_restore(
    personas, tmp_path: Path, empty_databases
) -> None:
    alice, bob = personas.customer_a, personas.customer_b
    carol = make_customer(name="Carol Smit", email="carol@example.nl").customer
    assert carol is not None
    ids = [str(alice.pk), str(bob.pk), str(carol.pk)]

    # 1. back up
    call_command("backup", str(tmp_path / "backup"))
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    dump = ".sqlite3" if _on_sqlite() else ".pgdump"
    assert set(manifest["files"]) == {f"keystore{dump}", f"main{dump}", "shred-journal.jsonl"}
    assert not list((tmp_path / "backup").glob("*.key"))  # the master key stays out

    # 2. erase Alice; Bob's contract ended over a year ago, so the sweep shreds his record
    services.erasure_request_from_portal(user=personas.alice)
    bob.contract_ended_at = timezone.now() - dt.timedelta(days=400)
    bob.save(update_fields=["contract_ended_at"])
    assert sweep.retention_sweep_run().per_class.get("customer_record") == 1
    journalled = {(s.subject, s.retention_class) for s in journal_read()}
    assert (alice.pk, "customer_record") in journalled
    assert (bob.pk, "customer_record") in journalled

    # 3. restore both backups into an empty location, with the live shred journal
    target = tmp_path / "restored"
    env = _env(target, Path(settings.KLUIS_SHRED_JOURNAL), empty_databases)
    result = _manage(env, "restore", str(tmp_path / "backup"))
    assert result.returncode == 0, result.stderr
    assert "shredded again" in result.stdout
    assert "OK:" in result.stdout  # audit_verify ran
    assert "blind indexes moved to generation 1" in result.stdout

    # 4. neither person's data opens, everything else does, and the chain verifies;
    # the backup's blind index no longer finds the erased address, and still finds Carol
    after = _read(env, *ids, "alice@example.nl", "carol@example.nl")
    assert after[ids[0]] == "SHREDDED"
    assert after[ids[1]] == "SHREDDED"
    assert after[ids[2]] == "Carol Smit"
    assert after["alice@example.nl"] is False
    assert after["carol@example.nl"] is True
    assert after["audit_ok"] is True

    # A second restore into the same place is refused: restore goes into an empty location.
    again = _manage(env, "restore", str(tmp_path / "backup"))
    assert again.returncode != 0
    assert "not empty" in again.stderr


def test_without_the_journal_the_old_keystore_brings_the_key_back(
    personas, tmp_path: Path, empty_databases
) -> None:
    """What the journal is for: the same restore with a lost journal revives Alice."""
    alice = personas.customer_a
    call_command("backup", str(tmp_path / "backup"))
    services.erasure_request_from_portal(user=personas.alice)
    env = _env(tmp_path / "restored", tmp_path / "lost-journal.jsonl", empty_databases)
    refused = _manage(env, "restore", str(tmp_path / "backup"))
    assert refused.returncode != 0
    assert "the live shred journal" in refused.stderr and "is missing" in refused.stderr
    result = _manage(env, "restore", str(tmp_path / "backup"), "--live-journal-lost")
    assert result.returncode == 0, result.stderr
    assert _read(env, str(alice.pk))[str(alice.pk)] == "Alice de Vries"


def test_a_damaged_backup_is_refused(personas, tmp_path: Path) -> None:
    call_command("backup", str(tmp_path / "backup"))
    # keystore.sqlite3 on SQLite, keystore.pgdump on PostgreSQL.
    (keystore,) = (tmp_path / "backup").glob("keystore.*")
    with keystore.open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00damaged\x00")
    with pytest.raises(CommandError, match="does not match its hash"):
        call_command("restore", str(tmp_path / "backup"))
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup", str(tmp_path / "backup"))


def test_a_journal_that_cannot_be_written_stops_the_shred(personas, settings, monkeypatch):
    """A full disk under the journal: the shred fails whole, the key stays live, and
    the caller sees the error; no key is ever gone without its journal line."""
    import errno

    from kluis.vault import keys
    from kluis.vault.models import DataKey

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("kluis.vault.journal.os.write", full)
    alice = personas.customer_a
    with pytest.raises(OSError, match="No space left"):
        keys.shred([keys.KeyScope(alice.pk, "customer_record")])
    assert DataKey.objects.get(subject=alice.pk, retention_class="customer_record").wrapped


@pytest.mark.parametrize("file_lost", [False, True], ids=["journal-file", "records-alone"])
def test_start_up_check_finds_a_journalled_key_live_again_and_replay_shreds_it(
    personas, tmp_path: Path, settings, file_lost: bool
) -> None:
    """With the journal file, or with it lost: then the main database's shred records
    alone name the key."""
    from io import StringIO

    from kluis.vault import keys
    from kluis.vault.models import DataKey

    settings.KLUIS_SHRED_JOURNAL = tmp_path / "journal.jsonl"
    alice = personas.customer_a
    row = DataKey.objects.get(subject=alice.pk, retention_class="customer_record")
    old_wrapped = bytes(row.wrapped)
    keys.shred([keys.KeyScope(alice.pk, "customer_record")])
    call_command("shred_journal", stdout=StringIO())  # all shredded: OK
    if file_lost:
        settings.KLUIS_SHRED_JOURNAL.unlink()
    # An older keystore comes back (as a restore by hand, without `restore`, would do).
    DataKey.objects.filter(pk=row.pk).update(wrapped=old_wrapped, shredded_at=None)
    with pytest.raises(CommandError, match="1 of the 1 keys in the shred journal"):
        call_command("shred_journal", stdout=StringIO())
    out = StringIO()
    call_command("shred_journal", "--replay", stdout=out)
    assert "shredded 1 journalled keys again" in out.getvalue()
    assert DataKey.objects.get(pk=row.pk).wrapped is None
    call_command("shred_journal", stdout=StringIO())


def test_a_key_shredded_while_the_backup_ran_stays_shredded_with_both_journal_files_lost(
    personas, tmp_path: Path, settings, monkeypatch, empty_databases
) -> None:
    """Alice is erased after the keystore and the journal copy were taken and before
    the main database is dumped. Then the live journal file is lost too: only the
    restored main database's shred records still name her keys."""
    from kluis.vault import backup as backup_module

    settings.KLUIS_SHRED_JOURNAL = tmp_path / "live-journal.jsonl"
    alice = personas.customer_a
    carol = make_customer(name="Carol Smit", email="carol@example.nl").customer
    assert carol is not None
    real_dump = backup_module._dump

    def dump_erasing_alice_first(alias: str, dest: Path) -> None:
        if alias == "default":
            services.erasure_request_from_portal(user=personas.alice)
        real_dump(alias, dest)

    monkeypatch.setattr(backup_module, "_dump", dump_erasing_alice_first)
    call_command("backup", str(tmp_path / "backup"))
    assert (tmp_path / "backup" / "shred-journal.jsonl").stat().st_size == 0
    assert any(s.subject == alice.pk for s in journal_read())  # the live file has her...
    settings.KLUIS_SHRED_JOURNAL.unlink()  # ...and is lost

    env = _env(tmp_path / "restored", settings.KLUIS_SHRED_JOURNAL, empty_databases)
    result = _manage(env, "restore", str(tmp_path / "backup"), "--live-journal-lost")
    assert result.returncode == 0, result.stderr
    after = _read(env, str(alice.pk), str(carol.pk), "alice@example.nl")
    assert after[str(alice.pk)] == "SHREDDED"
    assert after[str(carol.pk)] == "Carol Smit"
    assert after["alice@example.nl"] is False
    assert after["audit_ok"] is True
    named = re.search(r"\((\d+) named by the restored main database alone\)", result.stdout)
    assert named is not None and int(named.group(1)) > 0, result.stdout
    # The journal file starts again from the records, and the start-up check agrees.
    assert (alice.pk, "customer_record") in {
        (s.subject, s.retention_class) for s in journal_read(settings.KLUIS_SHRED_JOURNAL)
    }
    check = _manage(env, "shred_journal")
    assert check.returncode == 0, check.stderr


def test_a_shred_is_recorded_in_the_main_database_and_the_audit_chain(
    personas, tmp_path: Path, settings
) -> None:
    from io import StringIO

    from kluis.audit.chain import audit_append
    from kluis.audit.models import AuditEntry
    from kluis.vault import keys
    from kluis.vault.journal import records_verify, scopes_digest
    from kluis.vault.models import ShredRecord

    settings.KLUIS_SHRED_JOURNAL = tmp_path / "journal.jsonl"
    alice, bob = personas.customer_a, personas.customer_b
    both = [keys.KeyScope(alice.pk, "customer_record"), keys.KeyScope(bob.pk, "customer_record")]
    keys.shred(both)
    entry = AuditEntry.objects.filter(action="vault.shredded").latest("seq")
    data = json.loads(entry.payload)["data"]
    assert entry.subject is None  # two people: the digest, not a name
    assert data == {
        "keys": 2,
        "classes": {"customer_record": 2},
        "scopes_sha256": scopes_digest(both),
    }
    rows = ShredRecord.objects.filter(audit_seq=entry.seq)
    assert {(r.subject, r.retention_class, r.period) for r in rows} == {
        (alice.pk, "customer_record", ""),
        (bob.pk, "customer_record", ""),
    }
    one = keys.KeyScope(alice.pk, "contact_request")
    keys.shred([one])
    single = AuditEntry.objects.filter(action="vault.shredded").latest("seq")
    assert single.subject == alice.pk
    assert records_verify() == []
    call_command("shred_journal", stdout=StringIO())

    # A record removed from the table no longer matches its entry's digest.
    ShredRecord.objects.filter(audit_seq=entry.seq, subject=bob.pk).delete()
    assert records_verify() == [
        f"audit entry #{entry.seq} shredded 2 keys; the shred records of it are 1 and do "
        "not match its digest"
    ]
    with pytest.raises(CommandError, match="do not match the audit chain"):
        call_command("shred_journal", stdout=StringIO())
    # A record put back under another entry, which is no shred.
    other = audit_append(action="test.event", actor="system:test")
    ShredRecord.objects.create(
        subject=bob.pk, retention_class="customer_record", shredded_at=entry.at, audit_seq=other.seq
    )
    assert f"1 shred records name audit entry #{other.seq}, which is no shred" in records_verify()


def test_a_rolled_back_caller_keeps_the_shred_in_the_file_and_the_keystore(
    personas, tmp_path: Path, settings
) -> None:
    """The keystore is another database: the caller's rollback cannot bring the key
    back, and the fsynced journal file still names it; the rows and entry go."""
    from django.db import transaction

    from kluis.audit.models import AuditEntry
    from kluis.vault import keys
    from kluis.vault.models import DataKey, ShredRecord

    settings.KLUIS_SHRED_JOURNAL = tmp_path / "journal.jsonl"
    alice = personas.customer_a
    scope = keys.KeyScope(alice.pk, "customer_record")
    entries = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        keys.shred([scope])
        assert ShredRecord.objects.filter(subject=alice.pk).exists()
        raise RuntimeError("the caller fails after the shred")
    assert DataKey.objects.get(subject=alice.pk, retention_class="customer_record").wrapped is None
    assert list(journal_read()) == [scope]
    assert not ShredRecord.objects.filter(subject=alice.pk).exists()
    assert AuditEntry.objects.count() == entries
