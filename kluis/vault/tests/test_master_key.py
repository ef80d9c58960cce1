import base64
import io
import json
import os
import stat

import pytest
from django.core.management import call_command

from kluis.accounts.models import Customer
from kluis.vault import master
from kluis.vault.errors import KeyShredded, MasterKeyError
from kluis.vault.keys import KeyScope, shred, system_secret
from kluis.vault.models import DataKey, Secret
from kluis.vault.rotation import rewrap_all
from kluis.vault.tests.helpers import make_customer


@pytest.fixture
def key_file(tmp_path, settings, monkeypatch):
    monkeypatch.delenv("KLUIS_MASTER_KEY", raising=False)
    path = tmp_path / "master.key"
    settings.KLUIS_MASTER_KEY_FILE = path
    master.reset_master_ring()
    yield path
    master.reset_master_ring()


def test_the_key_file_is_created_with_mode_0600(key_file):
    call_command("vault_init", stdout=io.StringIO())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    doc = json.loads(key_file.read_text())
    assert len(base64.b64decode(doc["keys"][doc["current"]])) == 32


def test_a_key_file_readable_by_others_is_refused(key_file):
    master.generate_key_file(key_file)
    key_file.chmod(0o644)
    master.reset_master_ring()
    with pytest.raises(MasterKeyError, match="0600"):
        master.master_ring()


@pytest.mark.parametrize(
    ("value", "problem"),
    [("not base64!", "base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_a_bad_master_key_in_the_environment_is_refused(monkeypatch, value, problem):
    monkeypatch.setenv("KLUIS_MASTER_KEY", value)
    master.reset_master_ring()
    try:
        with pytest.raises(MasterKeyError, match=problem):
            master.master_ring()
    finally:
        monkeypatch.delenv("KLUIS_MASTER_KEY")
        master.reset_master_ring()


def test_the_master_key_can_come_from_the_environment(monkeypatch):
    key = os.urandom(32)
    monkeypatch.setenv("KLUIS_MASTER_KEY", base64.b64encode(key).decode())
    master.reset_master_ring()
    try:
        ring = master.master_ring()
        assert ring.keys == {master.key_id(key): key}
    finally:
        monkeypatch.delenv("KLUIS_MASTER_KEY")
        master.reset_master_ring()


@pytest.mark.django_db(databases="__all__")
def test_rotation_rewraps_every_key_and_values_still_open(key_file):
    """On SQLite and PostgreSQL alike (the keystore's row locks and bulk update are
    what differ): every live key and system secret moves, batch after batch; a
    shredded key stays shredded; and no wrapped byte string of before is left."""
    master.generate_key_file(key_file)
    master.reset_master_ring()
    customers = [make_customer(name=f"Roteer {i}") for i in range(3)]
    gone = make_customer(name="Weg")
    shred([KeyScope(gone.pk, "customer_record")])
    system_secret("rotation-test")
    before = {
        bytes(w) for w in DataKey.objects.exclude(wrapped=None).values_list("wrapped", flat=True)
    }
    before |= {bytes(w) for w in Secret.objects.values_list("wrapped", flat=True)}
    old = master.master_ring().current
    # Batches of two over more keys than that: the loop must come back for the rest.
    middle = os.urandom(32)
    both = master.MasterKeyRing(
        current=master.key_id(middle),
        keys={**master.master_ring().keys, master.key_id(middle): middle},
    )
    assert rewrap_all(both, batch=2) == len(before)
    assert rewrap_all(both, batch=2) == 0  # a second run has nothing left to do
    master.write_key_file(key_file, both)
    master.reset_master_ring()
    call_command("vault_rotate_master", stdout=io.StringIO())
    master.reset_master_ring()
    new = master.master_ring()
    assert new.current not in (old, both.current)
    assert old not in new.keys and both.current not in new.keys
    live = DataKey.objects.exclude(wrapped=None)
    assert set(live.values_list("master_kid", flat=True)) == {new.current}
    assert set(Secret.objects.values_list("master_kid", flat=True)) == {new.current}
    after = {
        bytes(w) for w in DataKey.objects.exclude(wrapped=None).values_list("wrapped", flat=True)
    }
    assert not before & after
    assert DataKey.objects.get(subject=gone.pk, retention_class="customer_record").wrapped is None
    with pytest.raises(KeyShredded):
        Customer.objects.get(pk=gone.pk).name.open()
    for i, customer in enumerate(customers):
        assert Customer.objects.get(pk=customer.pk).name.open() == f"Roteer {i}"
