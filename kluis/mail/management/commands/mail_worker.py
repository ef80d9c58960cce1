"""Deliver the outbox: `manage.py mail_worker [--once] [--batch N] [--interval S]`.

Run as many as you like, on as many machines: each mail is claimed by one worker at
a time (kluis/mail/services.py, mail_claim). SIGTERM or Ctrl-C lets the mail in hand
finish and then stops.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connections

from kluis.mail.delivery import StepHook, deliver_due
from kluis.mail.models import OutboxMessage

# A fault-injection point for the crash tests, development only: the worker kills
# itself with SIGKILL right after this step, as a power cut or an OOM kill would.
CRASH_VARIABLE = "KLUIS_MAIL_CRASH_AFTER"
CRASH_POINTS = ("claimed", "accepted")

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Deliver queued mail through EMAIL_URL, with retries and backoff."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="deliver what is due now, then stop"
        )
        parser.add_argument("--batch", type=int, default=20, help="mails claimed per pass")
        parser.add_argument(
            "--interval", type=float, default=2.0, help="seconds to wait when nothing is due"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch: int = options["batch"]
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        interval: float = options["interval"]
        crash = crash_hook()
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        if options["verbosity"] >= 1 and not options["once"]:
            self.stdout.write(f"mail worker {worker}: delivering to {settings.EMAIL_BACKEND}")
        while not stopping.is_set():
            recycle_connections()
            try:
                report = deliver_due(
                    worker=worker, batch=batch, on_step=crash, stop=stopping.is_set
                )
            except DatabaseError:
                if options["once"]:
                    raise
                # The database went away (a restart, a fail-over): wait and go on; the
                # mail in hand, if any, is taken up again when its lease runs out.
                logger.exception("mail worker %s: database error; retrying", worker)
                stopping.wait(max(interval, 5.0))
                continue
            if options["verbosity"] >= 2 and (report.handled or report.missed):
                self.stdout.write(
                    f"sent {report.sent}, retrying {report.retried}, "
                    f"failed {report.failed}, taken by others {report.missed}"
                )
            if report.handled:
                continue  # more may be due right away
            if options["once"]:
                break
            stopping.wait(interval)


def recycle_connections() -> None:
    # A worker has no request cycle to close connections past CONN_MAX_AGE or broken
    # by a database restart; do it between passes (never inside a transaction, as
    # when a test calls the command).
    if not any(c.in_atomic_block for c in connections.all(initialized_only=True)):
        close_old_connections()


def crash_hook() -> StepHook | None:
    point = os.environ.get(CRASH_VARIABLE, "")
    if not point:
        return None
    if point not in CRASH_POINTS:
        raise CommandError(f"{CRASH_VARIABLE}={point!r}: use one of {', '.join(CRASH_POINTS)}")
    if not settings.DEBUG:
        raise CommandError(f"{CRASH_VARIABLE} is a test hook; it works only with KLUIS_DEBUG=1")

    def crash(step: str, message: OutboxMessage) -> None:
        if step == point:
            os.kill(os.getpid(), signal.SIGKILL)

    return crash
