"""Rotating the blind-index key, so an old backup's indexes stop matching.

A blind index is HMAC-SHA256(key, value). An erasure deletes or clears the person's
index values, but a database backup taken before it still holds them: whoever has
that backup and the key can test a known address against it and learn that it was a
customer. Shredding the person's data keys does not help here, because the index key
is one key for everyone.

So the index key has generations. A rotation makes the next key, recomputes every
index value under it from the sealed value it indexes (a value whose data key is
shredded gets no index), and switches to the new generation in the same transaction
of the main database (`BlindIndexGeneration` lives there, beside the indexes, not in
the keystore), so no reader ever pairs one key with the other key's digests. Then
every older key is deleted from the keystore and the keystore file flushed, as for a
shredded data key.

What this buys: a database backup made before a rotation holds digests under a key
that the keystore no longer has. With today's keystore (or any keystore backup made
after that rotation) nothing in the old backup can be tested. `rights` rotates
within the hour after an erasure and at least every 30 days (kluis/rights/jobs.py),
and `restore` rotates before kluis serves the restored rows.

What it does not buy: a keystore backup made before the rotation still holds the old
key, exactly as it still holds a shredded data key; the two backups must be kept
apart and expire. Between an erasure and the next rotation (at most an hour, while
the worker runs) an old backup plus the current key still match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.apps import apps
from django.db import connections, models, router, transaction
from django.utils import timezone

from kluis.vault import keys
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import NORMALIZERS, BlindIndexField, SealedValue
from kluis.vault.models import BlindIndexGeneration, Secret
from kluis.vault.routers import KEYSTORE


@dataclass(frozen=True)
class Rotation:
    generation: int
    reindexed: int  # index values recomputed under the new key
    cleared: int  # index values whose sealed value is gone (its key shredded)
    keys_deleted: int  # older blind-index keys deleted from the keystore
    late: int  # values written under the old key during the switch, fixed after it


def _indexed_models() -> list[tuple[type[models.Model], list[BlindIndexField]]]:
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.get_fields() if isinstance(f, BlindIndexField)]
        if fields:
            found.append((model, fields))
    return found


def _digest(row: models.Model, field: BlindIndexField, key: bytes) -> str | None:
    sealed = getattr(row, field.source)
    if not isinstance(sealed, SealedValue):
        return None
    try:
        plain = sealed.open()
    except KeyShredded:
        return None
    return keys.blind_index_digest(key, field.kind, NORMALIZERS[field.kind](plain))


def _chunks(model: type[models.Model], size: int = 500) -> Iterator[list[models.Model]]:
    chunk: list[models.Model] = []
    for row in model._default_manager.order_by("pk").iterator(chunk_size=size):
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _reindex(key: bytes, *, conditional: bool) -> tuple[int, int]:
    """Recompute every index value under `key`; (recomputed, cleared).

    `conditional`: update a row only if its index is still what was read, so a row
    another transaction changed meanwhile keeps what that transaction wrote.
    """
    changed = cleared = 0
    for model, fields in _indexed_models():
        for chunk in _chunks(model):
            # The data keys of a chunk in one query per retention class.
            keys.prefetch(
                value.scope
                for row in chunk
                for field in fields
                if row.__dict__.get(field.attname) is not None
                and isinstance(value := getattr(row, field.source), SealedValue)
            )
            batch: list[models.Model] = []
            for row in chunk:
                dirty = False
                for field in fields:
                    now = row.__dict__.get(field.attname)
                    if now is None:
                        continue  # tombstoned: it stays without an index
                    new = _digest(row, field, key)
                    if new == now:
                        continue
                    if conditional:
                        model._default_manager.filter(pk=row.pk, **{field.attname: now}).update(
                            **{field.attname: new}
                        )
                    else:
                        row.__dict__[field.attname] = new
                        dirty = True
                    changed += new is not None
                    cleared += new is None
                if dirty:
                    batch.append(row)
            if batch:
                _write(model, batch, fields)
    return changed, cleared


def _write(
    model: type[models.Model], rows: list[models.Model], fields: list[BlindIndexField]
) -> None:
    """One UPDATE per row by primary key, sent as one batch (bulk_update's CASE
    expressions cost more than the whole rest of a rotation)."""
    connection = connections[router.db_for_write(model) or "default"]
    quote = connection.ops.quote_name
    pk = model._meta.pk
    assert pk is not None
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Only quoted table and column names of kluis's own models are formatted in.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {quote(pk.column)} = %s"  # noqa: S608
    params = [
        [*(row.__dict__.get(f.attname) for f in fields), pk.get_db_prep_value(row.pk, connection)]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def blind_index_rotate() -> Rotation:
    """Move every blind index to a new key and delete the older keys."""
    from kluis.audit.chain import audit_append

    with keys.key_scope():
        old = keys.blind_index_generation()
        new = old + 1
        # Made (and committed in the keystore) before it is used: a run cut short
        # leaves an unused key, which the next run deletes.
        key = keys.system_secret(keys.blind_index_secret_name(new))
        with transaction.atomic():
            pointer, _made = BlindIndexGeneration.objects.select_for_update().get_or_create(pk=1)
            if pointer.number != old:
                raise RuntimeError("another blind-index rotation ran at the same time")
            reindexed, cleared = _reindex(key, conditional=False)
            pointer.number = new
            pointer.rotated_at = timezone.now()
            pointer.save(update_fields=["number", "rotated_at"])
            audit_append(
                action="vault.blind_index_rotated",
                actor="system:vault",
                subject=None,
                data={"generation": new, "reindexed": reindexed, "cleared": cleared},
            )
        keys.forget_blind_index_generation()
        # A writer that read the old generation before the switch and committed after
        # it left a digest under the old key: one more pass, row by row, finds those.
        late, late_cleared = _reindex(key, conditional=True)
        keep = keys.blind_index_secret_name(new)
        with transaction.atomic(using=KEYSTORE):
            deleted, _kinds = (
                Secret.objects.filter(name__startswith=keys.BLIND_INDEX).exclude(name=keep).delete()
            )
        keys.flush_keystore()
    return Rotation(
        generation=new,
        reindexed=reindexed,
        cleared=cleared + late_cleared,
        keys_deleted=deleted,
        late=late,
    )


def blind_index_rotated_at() -> dt.datetime | None:
    row = BlindIndexGeneration.objects.filter(pk=1).first()
    return row.rotated_at if row is not None else None


T = TypeVar("T")


class BlindLookup(Generic[T]):
    """Rows by the blind index of raw values, for a run that looks up many of them
    (the usage ingest: a log line's mailbox address or host name).

    The indexes are given once per run; the key of the generation in force is read on
    the first look-up, not per value. The raw values pass through a cache in memory
    only (hits and misses), emptied when full and dropped with the run.
    """

    def __init__(self, kind: str, by_index: dict[str, T]) -> None:
        self.kind = kind
        self.by_index = by_index
        self._cache: dict[bytes, T | None] = {}
        self._key: bytes | None = None

    def __call__(self, raw: bytes) -> T | None:
        if not raw or not self.by_index:
            return None
        if raw in self._cache:
            return self._cache[raw]
        if len(self._cache) > 50_000:
            self._cache.clear()
        try:
            text = NORMALIZERS[self.kind](raw.decode())
        except UnicodeDecodeError:
            text = ""
        if self._key is None:
            self._key = keys.blind_index_key()
        digest = keys.blind_index_digest(self._key, self.kind, text) if text else None
        found = self.by_index.get(digest) if digest else None
        self._cache[raw] = found
        return found
