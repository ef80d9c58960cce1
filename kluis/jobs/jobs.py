"""Scheduled work on the audit chain: the witness checkpoints and the daily check.

Declared here rather than in the audit app, which depends on no other app.
"""

import datetime as dt

from kluis.audit.witness import witness_daily_verify, witness_run
from kluis.jobs.registry import job


# Checks every five minutes whether a checkpoint is due (one an hour, or one after
# 10,000 new entries), so the 10,000 are passed by at most five minutes' worth.
@job("audit_witness", every=dt.timedelta(minutes=5), lease=dt.timedelta(minutes=10))
def audit_witness() -> str:
    return witness_run()


@job("audit_verify", every=dt.timedelta(days=1), lease=dt.timedelta(hours=2))
def audit_verify_daily() -> str:
    return witness_daily_verify()
