"""The rights app's scheduled work: the daily retention sweep (R41), the rotation
of the blind-index key after an erasure (kluis/vault/blind.py), and the notice and
end of a restriction (art. 18(3) GDPR)."""

import datetime as dt

from django.utils import timezone

from kluis.jobs.registry import job
from kluis.rights.models import Erasure
from kluis.rights.sweep import retention_sweep_run
from kluis.vault.blind import blind_index_rotate, blind_index_rotated_at

# Rotate at least this often, erasures or not: the retention sweep also deletes rows.
ROTATE_AT_LEAST_EVERY = dt.timedelta(days=30)


@job("retention_sweep", every=dt.timedelta(days=1), lease=dt.timedelta(hours=6))
def retention_sweep() -> str:
    report = retention_sweep_run()
    return (
        f"{report.keys_shredded} keys shredded, {report.rows_deleted} rows deleted, "
        f"{report.rows_tombstoned} rows tombstoned"
    )


def blind_index_rotation_due(now: dt.datetime | None = None) -> bool:
    """An erasure since the last rotation, or the key older than 30 days."""
    now = now or timezone.now()
    last = blind_index_rotated_at()
    if last is None:
        return Erasure.objects.exists()
    return (
        now - last >= ROTATE_AT_LEAST_EVERY or Erasure.objects.filter(erased_at__gt=last).exists()
    )


@job("blind_index_rotation", every=dt.timedelta(hours=1), lease=dt.timedelta(hours=2))
def blind_index_rotation() -> str:
    """An old backup's blind indexes stop matching within the hour after an erasure
    (checked hourly; a rotation runs only when one is due)."""
    if not blind_index_rotation_due():
        return "not due"
    done = blind_index_rotate()
    return (
        f"generation {done.generation}: {done.reindexed} index values moved, "
        f"{done.cleared} cleared, {done.keys_deleted} old keys deleted"
    )


@job("restriction_ends", every=dt.timedelta(hours=1), lease=dt.timedelta(minutes=30))
def restriction_ends() -> str:
    """Art. 18(3) GDPR: the notice days before a restriction ends, then the end itself."""
    from kluis.rights import limits, services

    done = limits.restriction_ends_run(notify=services.restriction_end_notify)
    return f"{done.noticed} notices queued, {done.lifted} restrictions lifted"
