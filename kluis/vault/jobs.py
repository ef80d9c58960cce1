"""The vault's scheduled work: closing the PostgreSQL write-ahead log behind a shred.

A shred overwrites the wrapped key and vacuums the key table (keys.flush_keystore),
but the keystore's write-ahead log still holds the key's bytes: in the record that
inserted it and in full-page images of its page. Switching to a new segment and
checkpointing lets PostgreSQL recycle the old segments; what that does and does not
remove is in README, "Sealed data". Both need a privilege a plain application role
lacks (`pg_checkpoint`, PostgreSQL 15+, and EXECUTE on `pg_switch_wal()`); without
it the job says which grant is missing and shreds stay as safe as the master key.
"""

from __future__ import annotations

import datetime as dt

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from kluis.jobs.registry import job
from kluis.vault.models import DataKey
from kluis.vault.routers import KEYSTORE

EVERY = dt.timedelta(hours=1)
GRANTS = {
    "SELECT pg_switch_wal()": "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO <role>",
    "CHECKPOINT": "GRANT pg_checkpoint TO <role> (PostgreSQL 15+)",
}


def keystore_wal_close() -> list[str]:
    """Switch the keystore's WAL segment and checkpoint; what was refused, as grants."""
    connection = connections[KEYSTORE]
    missing = []
    for sql, grant in GRANTS.items():
        try:
            # A savepoint when called within a transaction: a refusal leaves it usable.
            with transaction.atomic(using=KEYSTORE), connection.cursor() as cursor:
                cursor.execute(sql)
        except DatabaseError:
            missing.append(grant)
    return missing


@job("keystore_wal_close", every=EVERY, lease=dt.timedelta(minutes=30))
def keystore_wal_close_job() -> str:
    if connections[KEYSTORE].vendor != "postgresql":
        return "not PostgreSQL (SQLite's log is truncated at each shred)"
    # A margin over the interval, so a shred just before the last run is not missed.
    since = timezone.now() - 2 * EVERY
    if not DataKey.objects.filter(shredded_at__gte=since).exists():
        return "no shred since the last run"
    missing = keystore_wal_close()
    if missing:
        return "WAL not closed, missing privileges: " + "; ".join(missing)
    return "WAL segment switched and checkpointed"
