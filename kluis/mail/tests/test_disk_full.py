"""A full disk while the outbox writes a mail file: no half mail is left, the mail
stays queued, and once there is room again it is written exactly once."""

from __future__ import annotations

import datetime as dt
import email
import errno
import os
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from kluis.mail.delivery import deliver_due
from kluis.mail.models import OutboxMessage
from kluis.mail.tests.conftest import queue_test_mail

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_full_disk_leaves_no_half_mail_and_the_outbox_retries(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.EMAIL_BACKEND = "kluis.mail.backends.AtomicFileBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    real_write = os.write
    calls = {"n": 0}

    def disk_fills(fd: int, data: Any) -> int:
        # The first chunk lands, then the disk is full: a torn write.
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("kluis.mail.backends.os.write", disk_fills)
    message = queue_test_mail()
    start = timezone.now()
    assert deliver_due(worker="w", now=start).retried == 1
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.QUEUED
    assert row.last_error == "OSError"
    assert list(tmp_path.iterdir()) == []  # neither a half mail nor a temporary file

    monkeypatch.setattr("kluis.mail.backends.os.write", real_write)
    assert deliver_due(worker="w", now=start + dt.timedelta(minutes=1)).sent == 1
    [written] = list(tmp_path.iterdir())
    assert written.suffix == ".eml"
    parsed = email.message_from_bytes(written.read_bytes())
    assert parsed["To"] and parsed["Subject"]
    assert not parsed.defects and all(not part.defects for part in parsed.walk())
    assert len(written.read_bytes()) > 100  # more than the torn first chunk
    row.refresh_from_db()
    assert row.status == OutboxMessage.Status.SENT and row.attempts == 2
    assert deliver_due(worker="w", now=start + dt.timedelta(hours=1)).handled == 0
    assert len(list(tmp_path.iterdir())) == 1
