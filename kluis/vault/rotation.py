"""Master key rotation: a new master key, every wrapped key re-wrapped under it.

Each wrapped key records which master key wraps it, and the key file keeps the old
master key until every row has moved; a rotation cut short can simply be run again.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.db import transaction

from kluis.vault.keys import KeyScope
from kluis.vault.master import KEY_BYTES, MasterKeyRing, key_id, write_key_file
from kluis.vault.models import DataKey, Secret
from kluis.vault.routers import KEYSTORE


def rewrap_all(ring: MasterKeyRing, *, batch: int = 1000) -> int:
    """Re-wrap every key not yet under the ring's current master key."""
    moved = 0
    while True:
        with transaction.atomic(using=KEYSTORE):
            rows = list(
                DataKey.objects.select_for_update()
                .filter(wrapped__isnull=False)
                .exclude(master_kid=ring.current)[:batch]
            )
            for row in rows:
                context = KeyScope(row.subject, row.retention_class, row.period).context()
                assert row.wrapped is not None
                key = ring.unwrap(row.master_kid, bytes(row.wrapped), context=context)
                row.master_kid, row.wrapped = ring.wrap(key, context=context)
            DataKey.objects.bulk_update(rows, ["master_kid", "wrapped"])
        moved += len(rows)
        if len(rows) < batch:
            break
    with transaction.atomic(using=KEYSTORE):
        for secret in Secret.objects.select_for_update().exclude(master_kid=ring.current):
            context = f"kluis-secret|{secret.name}".encode()
            value = ring.unwrap(secret.master_kid, bytes(secret.wrapped), context=context)
            secret.master_kid, secret.wrapped = ring.wrap(value, context=context)
            secret.save(update_fields=["master_kid", "wrapped"])
            moved += 1
    return moved


def rotate_key_file(path: Path, ring: MasterKeyRing) -> tuple[MasterKeyRing, int]:
    """Add a new current key to the file, re-wrap everything, then drop the old keys."""
    new_key = secrets.token_bytes(KEY_BYTES)
    kid = key_id(new_key)
    both = MasterKeyRing(current=kid, keys={**ring.keys, kid: new_key})
    write_key_file(path, both)
    moved = rewrap_all(both)
    final = MasterKeyRing(current=kid, keys={kid: new_key})
    write_key_file(path, final)
    return final, moved
