"""The process's cache of unwrapped data keys: it saves unwrapping, never a shred.

A cached key is used only while the keystore row read in the unit of work still holds
the same wrapped bytes; a key shredded anywhere, by this process or another, opens
nothing afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kluis.policy.enforce import Actor
from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.vault.keys import KeyScope, cipher_for, key_scope, shred
from kluis.vault.master import MasterKeyRing, master_ring
from kluis.vault.models import DataKey
from kluis.vault.reveal import reveal_many
from kluis.vault.tests.helpers import make_customer

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def unwraps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The master-key unwraps done, by context."""
    seen: list[str] = []
    real = MasterKeyRing.unwrap

    def counting(self: MasterKeyRing, kid: str, blob: bytes, *, context: bytes) -> bytes:
        seen.append(context.decode())
        return real(self, kid, blob, context=context)

    monkeypatch.setattr(MasterKeyRing, "unwrap", counting)
    keys.forget_unwrapped()
    yield seen
    keys.forget_unwrapped()


def _seal(scope: KeyScope) -> bytes:
    with key_scope():
        return cipher_for(scope, create=True).encrypt(b"\0" * 12, b"geheim", None)


def _open(scope: KeyScope, token: bytes) -> bytes:
    with key_scope():
        return cipher_for(scope, create=False).decrypt(b"\0" * 12, token, None)


def test_a_later_unit_of_work_reads_the_row_but_does_not_unwrap_again(unwraps):
    scope = KeyScope(uuid.uuid4(), "customer_record")
    token = _seal(scope)
    assert _open(scope, token) == b"geheim"
    assert _open(scope, token) == b"geheim"
    assert unwraps == [scope.context().decode()]


def test_a_key_shredded_behind_the_cache_opens_nothing(unwraps):
    # Another process shreds: this process's cache is not told, the row is.
    scope = KeyScope(uuid.uuid4(), "customer_record")
    token = _seal(scope)
    assert _open(scope, token) == b"geheim"
    assert scope in keys._unwrapped
    DataKey.objects.filter(subject=scope.subject).update(wrapped=None)
    with pytest.raises(KeyShredded):
        _open(scope, token)
    with key_scope():
        keys.prefetch([scope])
        assert keys.cached_ciphers()[scope] is None


def test_shredding_drops_the_key_from_the_cache(unwraps):
    scope = KeyScope(uuid.uuid4(), "customer_record")
    token = _seal(scope)
    assert _open(scope, token) == b"geheim"
    shred([scope])
    assert scope not in keys._unwrapped
    with pytest.raises(KeyShredded):
        _open(scope, token)


def test_a_row_with_other_wrapped_bytes_is_unwrapped_afresh(unwraps):
    # A master-key rotation re-wraps the same key: the cache does not match, it unwraps.
    scope = KeyScope(uuid.uuid4(), "customer_record")
    token = _seal(scope)
    row = DataKey.objects.get(subject=scope.subject)
    ring = master_ring()
    plain = ring.unwrap(row.master_kid, bytes(row.wrapped), context=scope.context())
    kid, rewrapped = ring.wrap(plain, context=scope.context())
    DataKey.objects.filter(pk=row.pk).update(wrapped=rewrapped, master_kid=kid)
    unwraps.clear()
    assert _open(scope, token) == b"geheim"
    assert len(unwraps) == 1
    assert keys._unwrapped[scope][1] == rewrapped


def test_a_cached_key_is_kept_only_a_short_while(unwraps, monkeypatch):
    monkeypatch.setattr(keys, "KEY_CACHE_SECONDS", 0.0)
    scope = KeyScope(uuid.uuid4(), "customer_record")
    token = _seal(scope)
    _open(scope, token)
    _open(scope, token)
    assert len(unwraps) == 2


def test_the_cache_holds_at_most_its_size(unwraps, monkeypatch):
    monkeypatch.setattr(keys, "KEY_CACHE_SIZE", 10)
    scopes = [KeyScope(uuid.uuid4(), "customer_record") for _ in range(25)]
    with key_scope():
        keys.prefetch_or_create(scopes)
    keys.forget_unwrapped()
    with key_scope():
        keys.prefetch(scopes)
        assert all(keys.cached_ciphers()[s] is not None for s in scopes)
    assert len(keys._unwrapped) <= 10


def test_a_bulk_read_after_a_shred_elsewhere_reads_none(unwraps):
    actor = Actor.system("test")
    kept, gone = make_customer(name="Sanne Blijft"), make_customer(name="Piet Weg")
    rows = [kept, gone]
    first = reveal_many(rows, ["name"], purpose="invoicing", actor=actor)
    assert [v["name"] for v in first] == ["Sanne Blijft", "Piet Weg"]
    DataKey.objects.filter(subject=gone.id).update(wrapped=None)
    again = reveal_many(rows, ["name", "email"], purpose="invoicing", actor=actor)
    assert again == [
        {"name": "Sanne Blijft", "email": "jan@example.nl"},
        {"name": None, "email": None},
    ]
