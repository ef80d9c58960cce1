"""After a class key is shredded its values cannot be read, not even from a copy of
the main database taken before the shred."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

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
    wrapped = bytes(DataKey.objects.get(subject=customer.pk).wrapped)
    with connections["default"].cursor() as cursor:
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
    # The wrapped key itself is gone from the keystore's files, not just flagged.
    for path in _db_files("keystore"):
        assert wrapped not in path.read_bytes(), path
