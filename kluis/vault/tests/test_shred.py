"""After a class key is shredded its values cannot be read, not even from a copy of
the main database taken before the shred."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections, transaction

from kluis.accounts.models import Customer
from kluis.vault.errors import KeyShredded
from kluis.vault.keys import KeyScope, cipher_for, shred
from kluis.vault.models import DataKey
from kluis.vault.tests.helpers import make_customer


def _db_files(alias: str) -> list[Path]:
    name = Path(connections[alias].settings_dict["NAME"])
    return [p for p in (name, Path(f"{name}-wal")) if p.exists()]


@pytest.mark.django_db(databases="__all__")
def test_a_shredded_value_cannot_be_opened_from_an_earlier_copy_of_its_row():
    customer = make_customer(name="Te Vergeten")
    # The "backup": the sealed bytes as they were before the shred.
    backup = Customer.objects.filter(pk=customer.pk).values_list("name", flat=True).get()
    count = shred([KeyScope(customer.pk, "customer_record")])
    assert count == 1
    restored = Customer.objects.get(pk=customer.pk)
    Customer.objects.filter(pk=customer.pk).update(name=backup)
    restored = Customer.objects.get(pk=customer.pk)
    with pytest.raises(KeyShredded):
        restored.name.open()
    with pytest.raises(KeyShredded):
        cipher_for(KeyScope(customer.pk, "customer_record"), create=False)


@pytest.mark.django_db(databases="__all__")
def test_shredding_one_class_leaves_other_people_readable():
    gone = make_customer(name="Weg")
    kept = make_customer(name="Blijft")
    shred([KeyScope(gone.pk, "customer_record")])
    assert Customer.objects.get(pk=kept.pk).name.open() == "Blijft"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_copy_of_the_sqlite_database_taken_before_the_shred_stays_unreadable(tmp_path):
    if connections["default"].vendor != "sqlite":
        pytest.skip("file copies are an SQLite matter; the row-copy test covers PostgreSQL")
    customer = make_customer(name="Oude Backup")
    for n in range(4):  # neighbours on the keystore page, so it is rewritten, not freed
        make_customer(name=f"Buur {n}")
    wrapped = bytes(DataKey.objects.get(subject=customer.pk).wrapped)
    for alias in ("default", "keystore"):
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = tmp_path / "backup.sqlite3"
    shutil.copy(connections["default"].settings_dict["NAME"], copy)

    call_command("vault_shred", str(customer.pk), "customer_record")

    with sqlite3.connect(copy) as backup:
        (token,) = backup.execute(
            "SELECT name FROM accounts_customer WHERE id = ?", (customer.pk.hex,)
        ).fetchone()
    restored = Customer.objects.get(pk=customer.pk)
    Customer.objects.filter(pk=customer.pk).update(name=token)
    with pytest.raises(KeyShredded):
        Customer.objects.get(pk=restored.pk).name.open()
    # The wrapped key itself is gone from the keystore's files, not just flagged: no
    # 12-byte run of it is left (the new, shorter row can overwrite the old one's start,
    # so the whole key is the wrong needle).
    for path in _db_files("keystore"):
        content = path.read_bytes()
        left = [i for i in range(len(wrapped) - 11) if wrapped[i : i + 12] in content]
        assert not left, (path, left)


@pytest.mark.django_db(databases="__all__")
def test_sqlite_databases_zero_what_they_free():
    """secure_delete is what keeps freed bytes of a shredded key out of the file.

    The shred's UPDATE happens to overwrite the key's bytes with the new, shorter row
    (SQLite places it at the end of the freed cell), so the file test above passes
    either way; deleting the row would not. The setting is therefore pinned directly.
    """
    checked = 0
    for alias in ("default", "keystore"):
        connection = connections[alias]
        if connection.vendor != "sqlite":
            continue
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete")
            assert cursor.fetchone()[0] == 1, alias
        checked += 1
    if not checked:
        pytest.skip("SQLite only; PostgreSQL is checked by the row test below")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_deleted_key_row_leaves_none_of_its_bytes_in_the_sqlite_file():
    if connections["keystore"].vendor != "sqlite":
        pytest.skip("file bytes are an SQLite matter")
    customers = [make_customer(name=f"Rij {n}") for n in range(5)]
    target = customers[2].pk
    wrapped = bytes(DataKey.objects.get(subject=target).wrapped)
    with connections["keystore"].cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    DataKey.objects.filter(subject=target).delete()
    with connections["keystore"].cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in _db_files("keystore"):
        content = path.read_bytes()
        left = [i for i in range(len(wrapped) - 11) if wrapped[i : i + 12] in content]
        assert not left, (path, left)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_after_a_shred_no_table_of_the_keystore_holds_the_keys_bytes():
    """On either database: the wrapped key is gone from every row and column of the
    keystore (bytea read as raw bytes), not only flagged as shredded."""
    customer = make_customer(name="Weg Ermee")
    wrapped = bytes(DataKey.objects.get(subject=customer.pk).wrapped)
    assert wrapped in _keystore_values()
    call_command("vault_shred", str(customer.pk), "customer_record")
    row = DataKey.objects.get(subject=customer.pk)
    assert row.wrapped is None and row.shredded_at is not None
    values = _keystore_values()
    left = [i for i in range(len(wrapped) - 11) if wrapped[i : i + 12] in values]
    assert not left


def _keystore_values() -> bytes:
    connection = connections["keystore"]
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode())
    return b"\x00".join(chunks)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_after_a_shred_the_keys_bytes_are_gone_from_the_postgresql_heap_pages():
    """The row test above reads live rows; PostgreSQL keeps the old row version, with
    the wrapped key, as a dead tuple in the table's pages until a vacuum. Read the raw
    pages (pageinspect) of the keystore's key table after a shred: none holds it."""
    connection = connections["keystore"]
    if connection.vendor != "postgresql":
        pytest.skip("heap pages are a PostgreSQL matter; SQLite's file is checked above")
    with connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        except Exception as exc:
            pytest.skip(f"pageinspect is not available here: {exc}")
    customers = [make_customer(name=f"Pagina {n}") for n in range(5)]
    target = customers[2].pk
    wrapped = bytes(DataKey.objects.get(subject=target).wrapped)
    assert wrapped[:12] in _heap_pages(), "the search finds the key before the shred"
    call_command("vault_shred", str(target), "customer_record")
    pages = _heap_pages()
    left = [i for i in range(len(wrapped) - 11) if wrapped[i : i + 12] in pages]
    assert not left
    other = DataKey.objects.get(subject=customers[3].pk).wrapped
    assert other is not None and bytes(other)[:12] in pages  # the others' keys stay


def _heap_pages() -> bytes:
    table = DataKey._meta.db_table
    with connections["keystore"].cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", [table])
        blocks = cursor.fetchone()[0]
        pages = []
        for block in range(blocks):
            cursor.execute("SELECT get_raw_page(%s, %s)", [table, block])
            pages.append(bytes(cursor.fetchone()[0]))
    return b"".join(pages)


@pytest.mark.django_db(databases="__all__")
def test_the_wal_job_switches_the_keystores_segment_after_a_shred_or_names_the_grant():
    """PostgreSQL's write-ahead log keeps a shredded key's bytes until its segment is
    recycled: the hourly job switches segment and checkpoints when a key was shredded,
    and a role without the privileges gets the grants it lacks, not an error."""
    from kluis.vault import jobs

    connection = connections["keystore"]
    if connection.vendor != "postgresql":
        assert jobs.keystore_wal_close_job().startswith("not PostgreSQL")
        return
    assert jobs.keystore_wal_close_job() == "no shred since the last run"
    customer = make_customer(name="Walter Wal")
    shred([KeyScope(customer.pk, "customer_record")])

    def segment() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_walfile_name(pg_current_wal_lsn())")
            return str(cursor.fetchone()[0])

    before = segment()
    assert jobs.keystore_wal_close_job() == "WAL segment switched and checkpointed"
    assert segment() != before
    # A plain application role: both refused, the job says which grants to give.
    with connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kluis_plain')"
            " THEN CREATE ROLE kluis_plain NOLOGIN; END IF; END $$"
        )
    with transaction.atomic(using="keystore"):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL ROLE kluis_plain")
        missing = jobs.keystore_wal_close()
    assert missing == list(jobs.GRANTS.values())
