"""A mail backend that writes each message to a file of its own, whole or not at all.

Django's file backend appends to an open file: a full disk halfway leaves half a mail
there, and the outbox's retry writes another. Here each message goes to a temporary
file in the same directory, is fsynced, and only then renamed to its `.eml` name, so
a reader (or an operator) sees complete mails only; a failed write removes its
temporary file and raises, and the outbox retries the mail later.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class AtomicFileBackend(BaseEmailBackend):
    def __init__(self, *, file_path: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_path = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.file_path.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            data = message.message().as_bytes(linesep="\n")
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            final = self.file_path / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
            try:
                _write_whole(final, data)
            except OSError:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent


def _write_whole(final: Path, data: bytes) -> None:
    fd, partial = tempfile.mkstemp(dir=final.parent, prefix=".partial-", suffix=".eml")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(partial, final)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        os.unlink(partial)
        raise
