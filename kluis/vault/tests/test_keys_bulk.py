"""Creating many data keys at once: the missing ones once, the existing ones kept."""

import uuid

import pytest

from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.vault.keys import KeyScope, cipher_for, key_scope, prefetch_or_create, shred
from kluis.vault.models import DataKey

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_creates_the_missing_keys_and_keeps_the_existing_ones():
    existing = KeyScope(uuid.uuid4(), "fiscal", "2026")
    with key_scope():
        before = cipher_for(existing, create=True).encrypt(b"\0" * 12, b"x", None)
    new = [KeyScope(uuid.uuid4(), "fiscal", "2026") for _ in range(3)]
    with key_scope():
        prefetch_or_create([existing, *new, new[0]])
        ciphers = keys.cached_ciphers()
        # The existing key opens what it sealed before: it was read, not replaced.
        assert ciphers[existing].decrypt(b"\0" * 12, before, None) == b"x"
        assert all(ciphers[s] is not None for s in new)
    assert DataKey.objects.filter(subject__in=[s.subject for s in new]).count() == 3
    # A later unit of work finds the same key in the keystore: it opens the same text.
    with key_scope():
        sealed = cipher_for(new[1], create=False).encrypt(b"\1" * 12, b"y", None)
    with key_scope():
        prefetch_or_create([new[1]])
        assert keys.cached_ciphers()[new[1]].decrypt(b"\1" * 12, sealed, None) == b"y"


def test_a_shredded_key_is_not_created_again():
    scope = KeyScope(uuid.uuid4(), "fiscal", "2026")
    with key_scope():
        cipher_for(scope, create=True)
    shred([scope])
    with key_scope():
        prefetch_or_create([scope])
        with pytest.raises(KeyShredded):
            cipher_for(scope, create=True)
    assert DataKey.objects.filter(subject=scope.subject).count() == 1


def test_a_key_another_process_stored_first_wins_over_the_one_made_here(monkeypatch):
    """Between this process's look and its insert another one stores a key for the
    same scope: the insert leaves that row alone, and everything here seals under the
    stored key, not under the key it made (which it knew unwrapped)."""
    raced = KeyScope(uuid.uuid4(), "fiscal", "2026")
    alone = KeyScope(uuid.uuid4(), "fiscal", "2026")
    theirs: list[bytes] = []
    insert = keys._insert_keys

    def other_process_first(rows):
        with key_scope():
            sealed = keys.cipher_for(raced, create=True).encrypt(b"\2" * 12, b"theirs", None)
        theirs.append(sealed)
        keys.forget_unwrapped([raced])
        insert(rows)

    monkeypatch.setattr(keys, "_insert_keys", other_process_first)
    with key_scope():
        prefetch_or_create([raced, alone])
        ciphers = keys.cached_ciphers()
        assert ciphers[raced].decrypt(b"\2" * 12, theirs[0], None) == b"theirs"
        mine = ciphers[alone].encrypt(b"\3" * 12, b"mine", None)
    assert DataKey.objects.filter(subject=raced.subject).count() == 1
    # The key made here for the other scope is the stored one: a cold process opens it.
    keys.forget_unwrapped()
    with key_scope():
        assert keys.cipher_for(alone, create=False).decrypt(b"\3" * 12, mine, None) == b"mine"


def test_a_bulk_read_finds_each_subjects_own_key_among_many():
    """The keys of many subjects come back in one statement each (PostgreSQL: one
    uuid[] parameter), each under its own subject; an unknown subject has none and a
    shredded one reads as None."""
    scopes = [KeyScope(uuid.uuid4(), "fiscal", "2026") for _ in range(40)]
    nonce = b"\3" * 12
    with key_scope():
        sealed = {
            s: cipher_for(s, create=True).encrypt(nonce, str(s.subject).encode(), None)
            for s in scopes
        }
    shred(scopes[:1])
    unknown = KeyScope(uuid.uuid4(), "fiscal", "2026")
    keys.forget_unwrapped()
    with key_scope():
        keys.prefetch([*scopes, unknown])
        ciphers = keys.cached_ciphers()
        assert ciphers[scopes[0]] is None
        assert unknown not in ciphers
        for scope in scopes[1:]:
            assert ciphers[scope].decrypt(nonce, sealed[scope], None) == str(scope.subject).encode()
