"""Running scheduled jobs: claim, run, record."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from kluis.audit.chain import audit_append
from kluis.jobs.models import JobRun
from kluis.jobs.registry import JOBS, Job

logger = logging.getLogger(__name__)


@dataclass
class JobsReport:
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def job_claim(*, job: Job, worker: str) -> bool:
    """Take the job if it is due and nobody holds it; True if this worker has it.

    A lease that ran out is a run that never finished (job_finish clears the lease):
    its worker died or lost the database before it could record the outcome. Such a
    run is due again at once, not only after the job's interval.
    """
    now = timezone.now()
    JobRun.objects.get_or_create(name=job.name)
    due = (
        Q(last_started_at__isnull=True)
        | Q(last_started_at__lte=now - job.every)
        | Q(leased_until__lte=now)
    )
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    taken = JobRun.objects.filter(due & free, name=job.name).update(
        last_started_at=now, leased_until=now + job.lease, leased_by=worker
    )
    return taken == 1


def job_finish(*, job: Job, worker: str, outcome: str, failed: bool) -> None:
    with transaction.atomic():
        run = JobRun.objects.select_for_update().get(name=job.name)
        if run.leased_by != worker:
            return  # our lease ran out and another worker took over
        run.leased_until = None
        run.leased_by = ""
        run.last_finished_at = timezone.now()
        run.last_outcome = outcome[:200]
        if failed:
            # Due again at once, so the next pass retries; the failure count says why.
            run.failures += 1
            run.last_started_at = None
        else:
            run.failures = 0
        run.save()
        audit_append(
            action="job.failed" if failed else "job.finished",
            actor=f"system:{worker}",
            data={"job": job.name, "outcome": outcome[:200]},
        )


# Runs whose outcome this process could not record, because the database refused the
# write (a full disk, a server gone): (worker, job name) -> (job, outcome, failed). The
# worker records them first on its next pass, so such a run is due again at once (or
# stays done) instead of waiting for its lease to run out.
_unrecorded: dict[tuple[str, str], tuple[Job, str, bool]] = {}


def _record(*, job: Job, worker: str, outcome: str, failed: bool) -> None:
    try:
        job_finish(job=job, worker=worker, outcome=outcome, failed=failed)
    except DatabaseError:
        _unrecorded[(worker, job.name)] = (job, outcome, failed)
        raise
    _unrecorded.pop((worker, job.name), None)


def jobs_run_due(*, worker: str) -> JobsReport:
    """Run every due job once. A DatabaseError while recording an outcome is raised to
    the worker's loop (which waits and tries again), after the run is remembered."""
    report = JobsReport()
    for (owner, _name), (job, outcome, failed) in sorted(_unrecorded.items()):
        if owner == worker:
            _record(job=job, worker=worker, outcome=outcome, failed=failed)
    for job in sorted(JOBS.values(), key=lambda j: j.name):
        if not job_claim(job=job, worker=worker):
            continue
        try:
            outcome = job.run()
        except Exception as exc:  # a job's failure must not stop the worker
            logger.exception("job %s failed", job.name)
            _drop_broken_connections()
            _record(job=job, worker=worker, outcome=type(exc).__name__, failed=True)
            report.failed.append(job.name)
        else:
            _record(job=job, worker=worker, outcome=outcome, failed=False)
            report.ran.append(job.name)
    return report


def _drop_broken_connections() -> None:
    """Close the connections that a failed job left unusable (the server ended them, or
    a restart did), so that recording the failure opens a new one instead of failing
    too and leaving the run leased but unrecorded. Never inside a transaction (a test
    that calls the worker in its own)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
