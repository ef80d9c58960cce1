"""Data keys: one per data subject and retention class (and fiscal year).

A data key is created the first time something is sealed under its scope, wrapped by
the master key and stored in the keystore. Which keys exist is cached only inside a
key scope (one request, one command run): every scope reads its keys' rows from the
keystore again, so a key shredded by another process is never used again by a later
request.

Unwrapping is what costs (an AES-GCM decryption under the master key per key), so the
process keeps the unwrapped keys it saw for a short while (KEY_CACHE_SECONDS, at most
KEY_CACHE_SIZE of them), but only as a companion to the row just read: a cached key
is used only when the keystore row read in this scope still holds the very same
wrapped bytes under the same master key. A shredded row (wrapped NULL) never matches,
a re-wrapped row (master key rotation) is unwrapped afresh, and `shred` drops its keys
from this process's cache at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from kluis.vault.errors import KeyShredded, VaultError
from kluis.vault.journal import journal_append, record_shreds
from kluis.vault.master import master_ring
from kluis.vault.models import DataKey, Secret
from kluis.vault.routers import KEYSTORE


@dataclass(frozen=True, slots=True)
class KeyScope:
    subject: uuid.UUID
    retention_class: str
    period: str = ""

    def context(self) -> bytes:
        return f"kluis-dek|{self.subject}|{self.retention_class}|{self.period}".encode()


class _Cache:
    def __init__(self) -> None:
        self.ciphers: dict[KeyScope, AESGCM | None] = {}
        self.secrets: dict[str, bytes] = {}
        self.blind_generation: int | None = None


_cache: contextvars.ContextVar[_Cache | None] = contextvars.ContextVar("kluis_keys", default=None)


@contextlib.contextmanager
def key_scope() -> Iterator[None]:
    """Cache unwrapped keys for the duration of one unit of work."""
    if _cache.get() is not None:
        yield
        return
    token = _cache.set(_Cache())
    try:
        yield
    finally:
        _cache.reset(token)


# The process's unwrapped keys: scope -> (master key id, wrapped bytes, cipher, expiry).
KEY_CACHE_SECONDS = 300.0
KEY_CACHE_SIZE = 50_000
_unwrapped: dict[KeyScope, tuple[str, bytes, AESGCM, float]] = {}
_unwrapped_ring: list[object] = [None]
_unwrapped_lock = threading.Lock()


def forget_unwrapped(scopes: Iterable[KeyScope] | None = None) -> None:
    """Drop unwrapped keys from this process's cache: those of `scopes`, or all."""
    with _unwrapped_lock:
        if scopes is None:
            _unwrapped.clear()
            return
        for scope in scopes:
            _unwrapped.pop(scope, None)


def _check_ring() -> None:
    """A new master key ring (reset_master_ring) empties the cache."""
    ring = master_ring()
    if _unwrapped_ring[0] is not ring:
        with _unwrapped_lock:
            _unwrapped.clear()
            _unwrapped_ring[0] = ring


def _unwrap(row: DataKey) -> AESGCM | None:
    scope = KeyScope(row.subject, row.retention_class, row.period)
    return _unwrap_scope(scope, row.master_kid, row.wrapped)


def _unwrap_scope(
    scope: KeyScope, master_kid: str, wrapped: bytes | memoryview | None, now: float | None = None
) -> AESGCM | None:
    if wrapped is None:
        return None
    if type(wrapped) is not bytes:
        wrapped = bytes(wrapped)
    if now is None:
        now = time.monotonic()
    hit = _unwrapped.get(scope)
    if hit is not None and hit[3] > now and hit[0] == master_kid and hit[1] == wrapped:
        return hit[2]
    cipher = AESGCM(master_ring().unwrap(master_kid, wrapped, context=scope.context()))
    with _unwrapped_lock:
        if len(_unwrapped) >= KEY_CACHE_SIZE:
            # Drop the expired ones, or else the oldest half (insertion order).
            stale = [s for s, v in _unwrapped.items() if v[3] <= now]
            if len(stale) < KEY_CACHE_SIZE // 10:
                stale = list(_unwrapped)[: KEY_CACHE_SIZE // 2]
            for old in stale:
                _unwrapped.pop(old, None)
        _unwrapped[scope] = (master_kid, wrapped, cipher, now + KEY_CACHE_SECONDS)
    return cipher


def _create(scope: KeyScope) -> AESGCM:
    key = AESGCM.generate_key(bit_length=256)
    kid, wrapped = master_ring().wrap(key, context=scope.context())
    try:
        with transaction.atomic(using=KEYSTORE):
            DataKey.objects.create(
                subject=scope.subject,
                retention_class=scope.retention_class,
                period=scope.period,
                wrapped=wrapped,
                master_kid=kid,
            )
    except IntegrityError:
        # Another process created it first; use theirs.
        row = DataKey.objects.get(
            subject=scope.subject, retention_class=scope.retention_class, period=scope.period
        )
        cipher = _unwrap(row)
        if cipher is None:
            raise KeyShredded(f"the key for {scope} has been shredded") from None
        return cipher
    return AESGCM(key)


def cached_ciphers() -> dict[KeyScope, AESGCM | None]:
    """The prefetched ciphers of the open key scope (None where shredded)."""
    cache = _cache.get()
    assert cache is not None, "cached_ciphers needs an open key scope"
    return cache.ciphers


def cipher_for(scope: KeyScope, *, create: bool) -> AESGCM:
    """The cipher of a scope's data key; raises KeyShredded if it is gone."""
    cache = _cache.get()
    if cache is not None and scope in cache.ciphers:
        cipher = cache.ciphers[scope]
    else:
        row = DataKey.objects.filter(
            subject=scope.subject, retention_class=scope.retention_class, period=scope.period
        ).first()
        if row is None:
            if not create:
                raise KeyShredded(f"no key exists for {scope}")
            cipher = _create(scope)
        else:
            _check_ring()
            cipher = _unwrap(row)
        if cache is not None:
            cache.ciphers[scope] = cipher
    if cipher is None:
        raise KeyShredded(f"the key for {scope} has been shredded")
    return cipher


def prefetch(scopes: Iterable[KeyScope]) -> None:
    """Load many keys in few queries (bulk reads); needs an open key scope."""
    cache = _cache.get()
    if cache is None:
        return
    ciphers = cache.ciphers
    # (class, period) -> subject -> the scope asked for, reused as the cache's key.
    by_class: dict[tuple[str, str], dict[uuid.UUID, KeyScope]] = {}
    for scope in scopes:
        if scope not in ciphers:
            by_class.setdefault((scope.retention_class, scope.period), {})[scope.subject] = scope
    if by_class:
        _check_ring()
    for (retention_class, period), wanted in by_class.items():
        subjects = list(wanted)
        for start in range(0, len(subjects), 5000):
            chunk = subjects[start : start + 5000]
            now = time.monotonic()
            for subject, master_kid, wrapped in _key_rows(retention_class, period, chunk):
                scope = wanted[subject]
                ciphers[scope] = _unwrap_scope(scope, master_kid, wrapped, now)


def prefetch_or_create(scopes: Iterable[KeyScope]) -> None:
    """Load many keys and create the missing ones in few queries (bulk writes).

    Needs an open key scope. A key another process created meanwhile wins: the rows
    are read back after the insert, so every writer seals under the stored key.
    """
    cache = _cache.get()
    assert cache is not None, "prefetch_or_create needs an open key scope"
    wanted = {s for s in scopes if s not in cache.ciphers}
    prefetch(wanted)
    missing = [s for s in wanted if s not in cache.ciphers]
    if not missing:
        return
    _check_ring()
    ring = master_ring()
    rows = []
    made = []
    for scope in missing:
        key = AESGCM.generate_key(bit_length=256)
        kid, wrapped = ring.wrap(key, context=scope.context())
        rows.append((scope, kid, wrapped))
        made.append((scope, kid, wrapped, AESGCM(key)))
    with transaction.atomic(using=KEYSTORE):
        _insert_keys(rows)
    # The keys just made are known unwrapped: as any cached key, one is used only when
    # the row read back holds the very bytes it was wrapped to (another process's key,
    # inserted first, has other bytes and is unwrapped from its row).
    expiry = time.monotonic() + KEY_CACHE_SECONDS
    with _unwrapped_lock:
        room = KEY_CACHE_SIZE - len(_unwrapped)
        for scope, kid, wrapped, cipher in made[: max(room, 0)]:
            _unwrapped[scope] = (kid, wrapped, cipher, expiry)
    prefetch(missing)


def _insert_keys(rows: list[tuple[KeyScope, str, bytes]]) -> None:
    """Insert new key rows, leaving alone any scope that already has one (as
    bulk_create's ignore_conflicts), in one prepared statement run per row: the ORM
    spent most of a bulk key creation building model instances and their values."""
    connection = connections[KEYSTORE]
    meta = DataKey._meta
    ops = connection.ops
    created = ops.adapt_datetimefield_value(timezone.now())
    names = ("subject", "retention_class", "period", "wrapped", "master_kid", "created_at")
    concrete = {f.name: f for f in meta.concrete_fields}
    columns = ", ".join(ops.quote_name(concrete[name].column) for name in names)
    sql = (
        f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608 - names
        f"VALUES ({', '.join(['%s'] * len(names))}) ON CONFLICT DO NOTHING"
    )
    values = [
        (
            concrete["subject"].get_db_prep_value(scope.subject, connection),
            scope.retention_class,
            scope.period,
            wrapped,
            kid,
            created,
        )
        for scope, kid, wrapped in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(values), 5000):
            cursor.executemany(sql, values[start : start + 5000])


def _key_rows(
    retention_class: str, period: str, subjects: list[uuid.UUID]
) -> list[tuple[uuid.UUID, str, bytes | None]]:
    """The wrapped keys of many subjects in one statement.

    Written in SQL because the ORM spends most of a bulk read building and converting
    thousands of UUID parameters; the values are still passed as parameters.
    PostgreSQL gets them as one uuid[] parameter written as text (uuid_array): psycopg
    dumps a list of UUIDs item by item in Python, which cost a bulk read more than
    half of this query's time.
    """
    connection = connections[KEYSTORE]
    table = DataKey._meta.db_table
    sql = (
        f"SELECT subject, master_kid, wrapped FROM {table} "  # noqa: S608 - names, not input
        "WHERE retention_class = %s AND period = %s AND subject "
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                sql + "= ANY(%s::uuid[])", [retention_class, period, uuid_array(subjects)]
            )
            # psycopg gives the subjects back as UUIDs, equal to those asked for.
            rows: list[tuple[uuid.UUID, str, bytes | None]] = cursor.fetchall()
            return rows
    field = DataKey._meta.get_field("subject")
    params = [field.get_db_prep_value(s, connection) for s in subjects]
    by_param = dict(zip(params, subjects, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            sql + f"IN ({', '.join(['%s'] * len(params))})", [retention_class, period, *params]
        )
        return [(by_param[s], kid, wrapped) for s, kid, wrapped in cursor.fetchall()]


def uuid_array(values: Iterable[uuid.UUID]) -> str:
    """`values` as the text of a PostgreSQL uuid[] (for a `%s::uuid[]` parameter): one
    string, which the driver quotes once, instead of a list it dumps item by item."""
    return "{" + ",".join([value.hex for value in values]) + "}"


def shred(scopes: Iterable[KeyScope], *, journal: bool = True) -> int:
    """Destroy data keys. Values sealed under them can never be opened again.

    Each scope is first written to the shred journal (journal.py), so that a restored
    keystore backup older than this shred loses the key again. If the journal cannot
    be written (a full disk), nothing is shredded and the OSError goes to the caller.
    Then, before the keystore is touched, its second record: a row per scope and one
    `vault.shredded` audit entry in the main database, inside the caller's transaction
    if one is open (committed at once otherwise). Should that transaction roll back
    after the keystore was overwritten, the key stays shredded and the journal file
    still names it; only the rows and the entry are gone. `journal=False` (a replay of
    shreds already recorded) writes neither.
    """
    scopes = list(dict.fromkeys(scopes))
    if journal:
        journal_append(scopes)
        record_shreds(scopes)
    by_class: dict[tuple[str, str], list[uuid.UUID]] = {}
    for scope in scopes:
        by_class.setdefault((scope.retention_class, scope.period), []).append(scope.subject)
    shredded = 0
    now = timezone.now()
    with transaction.atomic(using=KEYSTORE):
        for (retention_class, period), subjects in by_class.items():
            for start in range(0, len(subjects), 5000):
                shredded += DataKey.objects.filter(
                    retention_class=retention_class,
                    period=period,
                    subject__in=subjects[start : start + 5000],
                    wrapped__isnull=False,
                ).update(wrapped=None, shredded_at=now)
    forget_unwrapped(scopes)
    cache = _cache.get()
    if cache is not None:
        for scope in scopes:
            cache.ciphers[scope] = None
    flush_keystore()
    return shredded


def flush_keystore() -> None:
    """Make a shred final on disk.

    With SQLite the old page can linger in the write-ahead log until a checkpoint;
    secure_delete zeroes freed bytes in the main file, and a truncating checkpoint
    empties the log. PostgreSQL keeps the old row version (with the wrapped key) in
    the table's heap as a dead tuple until a vacuum prunes it: the keystore's key
    table is vacuumed at once. Its write-ahead log still holds the bytes until the
    segment is recycled (README, "Sealed data").
    """
    connection = connections[KEYSTORE]
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif connection.vendor == "postgresql":
            cursor.execute(f"VACUUM {connection.ops.quote_name(DataKey._meta.db_table)}")


# --- system secrets -------------------------------------------------------------------


def system_secret(name: str, *, create: bool = True) -> bytes:
    cache = _cache.get()
    if cache is not None and name in cache.secrets:
        return cache.secrets[name]
    context = f"kluis-secret|{name}".encode()
    row = Secret.objects.filter(name=name).first()
    if row is None and not create:
        raise VaultError(f"the system secret {name!r} is missing from the keystore")
    if row is None:
        value = os.urandom(32)
        kid, wrapped = master_ring().wrap(value, context=context)
        try:
            with transaction.atomic(using=KEYSTORE):
                Secret.objects.create(name=name, wrapped=wrapped, master_kid=kid)
        except IntegrityError:
            row = Secret.objects.get(name=name)
    if row is not None:
        value = master_ring().unwrap(row.master_kid, bytes(row.wrapped), context=context)
    if cache is not None:
        cache.secrets[name] = value
    return value


BLIND_INDEX = "blind_index"


def blind_index_secret_name(generation: int) -> str:
    """The keystore name of a blind-index key; generation 0 keeps its first name."""
    return BLIND_INDEX if generation == 0 else f"{BLIND_INDEX}.{generation}"


def blind_index_generation() -> int:
    """The generation in force, read from the main database (kluis/vault/blind.py)."""
    from kluis.vault.models import BlindIndexGeneration

    cache = _cache.get()
    if cache is not None and cache.blind_generation is not None:
        return cache.blind_generation
    row = BlindIndexGeneration.objects.filter(pk=1).only("number").first()
    number = row.number if row is not None else 0
    if cache is not None:
        cache.blind_generation = number
    return number


def blind_index_digest(key: bytes, kind: str, normalized: str) -> str:
    return hmac.new(key, f"{kind}|{normalized}".encode(), hashlib.sha256).hexdigest()


def blind_index(kind: str, normalized: str) -> str:
    """Keyed HMAC for exact-match lookup; never an unkeyed hash of personal data.

    The key is that of the generation in force; a later generation's key is never made
    here (only a rotation makes one), so a lost key fails loudly instead of silently
    indexing under a new one.
    """
    return blind_index_digest(blind_index_key(), kind, normalized)


def blind_index_key() -> bytes:
    """The blind-index key of the generation in force: for a caller that digests many
    values in one run (the usage ingest), read once instead of per value."""
    generation = blind_index_generation()
    return system_secret(blind_index_secret_name(generation), create=generation == 0)


def forget_blind_index_generation() -> None:
    """After a rotation: the next lookup reads the generation and its key again."""
    cache = _cache.get()
    if cache is not None:
        cache.blind_generation = None
        for name in [n for n in cache.secrets if n.startswith(BLIND_INDEX)]:
            del cache.secrets[name]
