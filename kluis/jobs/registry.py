"""The scheduled jobs of kluis, declared by each app in its jobs.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

# A job returns a one-line outcome without personal data, for the audit log.
JobFunction = Callable[[], str]


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    run: JobFunction
    # How long a run may take before another worker may assume it crashed.
    lease: dt.timedelta = dt.timedelta(hours=1)


JOBS: dict[str, Job] = {}


def job(
    name: str, *, every: dt.timedelta, lease: dt.timedelta = dt.timedelta(hours=1)
) -> Callable[[JobFunction], JobFunction]:
    def register(func: JobFunction) -> JobFunction:
        if name in JOBS and JOBS[name].run is not func:
            raise ValueError(f"job {name!r} is declared twice")
        JOBS[name] = Job(name=name, every=every, run=func, lease=lease)
        return func

    return register


# A queue the worker empties on every pass, beside the outbox: work that a request
# hands on so that the request itself does the same whatever the outcome. It returns
# how many items it handled; nothing is audited for a pass that found nothing.
QueueFunction = Callable[[], int]
QUEUES: dict[str, QueueFunction] = {}


def queue(name: str) -> Callable[[QueueFunction], QueueFunction]:
    def register(func: QueueFunction) -> QueueFunction:
        if name in QUEUES and QUEUES[name] is not func:
            raise ValueError(f"queue {name!r} is declared twice")
        QUEUES[name] = func
        return func

    return register


def queues_run() -> int:
    """One pass over every queue; how many items were handled in all."""
    return sum(run() for _name, run in sorted(QUEUES.items()))
