"""The rights app's scheduled work: the daily retention sweep (R41)."""

import datetime as dt

from kluis.jobs.registry import job
from kluis.rights.sweep import retention_sweep_run


@job("retention_sweep", every=dt.timedelta(days=1), lease=dt.timedelta(hours=6))
def retention_sweep() -> str:
    report = retention_sweep_run()
    return (
        f"{report.keys_shredded} keys shredded, {report.rows_deleted} rows deleted, "
        f"{report.rows_tombstoned} rows tombstoned"
    )
