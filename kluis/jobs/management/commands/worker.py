"""`manage.py worker [--once]`: deliver the outbox and run the scheduled jobs.

One loop for both, so a small installation runs one process; run several for more
throughput: mails and jobs are each claimed by one worker at a time.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from kluis.jobs.registry import queues_run
from kluis.jobs.services import jobs_run_due
from kluis.mail.delivery import deliver_due
from kluis.mail.management.commands.mail_worker import recycle_connections

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Deliver queued mail and run scheduled jobs (retention sweep, VIES re-checks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then stop")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds to wait when idle")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        while not stopping.is_set():
            recycle_connections()
            try:
                queued = queues_run()
                mail = deliver_due(worker=worker, batch=20, stop=stopping.is_set)
                jobs = jobs_run_due(worker=worker)
            except DatabaseError:
                if options["once"]:
                    raise
                logger.exception("worker %s: database error; retrying", worker)
                stopping.wait(5.0)
                continue
            for name in jobs.ran + jobs.failed:
                state = "failed" if name in jobs.failed else "done"
                self.stdout.write(f"job {name}: {state}")
            if options["once"]:
                break
            if not mail.handled and not queued:
                stopping.wait(options["interval"])
