"""The outbox survives a worker killed mid-delivery: no mail lost, none sent twice
except as the same message (same Message-ID) when the kill fell after the server
had it. The worker runs as `manage.py mail_worker` in a process of its own, on the
test databases, and is killed with SIGKILL.
"""

import datetime as dt
import os
import signal

import pytest
from django.utils import timezone

from kluis.mail.models import LEASE, OutboxMessage
from kluis.mail.services import mail_claim
from kluis.mail.tests.conftest import ADDRESS, queue_test_mail, run_worker, start_worker

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
KILLED = -signal.SIGKILL


def _queue() -> OutboxMessage:
    return queue_test_mail(note="crash", with_attachment=True)


def _left_sending(message: OutboxMessage) -> OutboxMessage:
    """The killed worker's mail: still "sending", and nobody may take it while its lease runs."""
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.SENDING and row.attempts == 1
    assert mail_claim(message_id=row.pk, worker="eager", now=timezone.now()) is None
    return row


def _lease_runs_out(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(
        claimed_at=timezone.now() - LEASE - dt.timedelta(seconds=1)
    )


def _restart_and_finish(server, message: OutboxMessage) -> OutboxMessage:
    result = run_worker(server)
    assert result.returncode == 0, result.stderr
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.SENT and row.attempts == 2
    assert row.recipient is None
    return row


def test_a_worker_killed_before_sending_leaves_the_mail_to_be_sent_exactly_once(smtp_server):
    message = _queue()
    killed = run_worker(smtp_server, KLUIS_MAIL_CRASH_AFTER="claimed")
    assert killed.returncode == KILLED, killed.stderr
    assert smtp_server.received == []
    _left_sending(message)

    _lease_runs_out(message)
    _restart_and_finish(smtp_server, message)
    [received] = smtp_server.received
    assert received.rcpt_tos == [ADDRESS]
    assert received.message["Message-ID"] == message.message_id


def test_a_worker_killed_after_the_server_accepted_resends_the_same_message(smtp_server):
    message = _queue()
    killed = run_worker(smtp_server, KLUIS_MAIL_CRASH_AFTER="accepted")
    assert killed.returncode == KILLED, killed.stderr
    assert len(smtp_server.received) == 1  # delivered, but the outbox could not record it
    _left_sending(message)

    _lease_runs_out(message)
    _restart_and_finish(smtp_server, message)
    first, second = smtp_server.received
    # At least once, and the second copy is the same message: a receiver drops it by
    # its Message-ID.
    assert first.message["Message-ID"] == second.message["Message-ID"] == message.message_id
    assert first.rcpt_tos == second.rcpt_tos == [ADDRESS]
    assert first.message["Subject"] == second.message["Subject"]
    assert (first.text, first.html) == (second.text, second.html)
    assert first.attachments() == second.attachments() != []


def test_a_worker_killed_while_the_server_holds_the_mail_resends_the_same_message(
    smtp_server,
):
    """Killed from outside, after the server has the message but before the worker
    hears it accepted: the real window that no client can close."""
    message = _queue()
    worker = start_worker(smtp_server)
    smtp_server.inbox.on_data = lambda: os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=120)
    assert worker.returncode == KILLED
    smtp_server.inbox.on_data = None
    assert len(smtp_server.received) == 1
    _left_sending(message)

    _lease_runs_out(message)
    _restart_and_finish(smtp_server, message)
    first, second = smtp_server.received
    assert first.message["Message-ID"] == second.message["Message-ID"] == message.message_id


def test_no_mail_is_lost_when_a_worker_dies_in_the_middle_of_a_batch(smtp_server):
    messages = [_queue() for _ in range(3)]
    killed = run_worker(smtp_server, KLUIS_MAIL_CRASH_AFTER="accepted")
    assert killed.returncode == KILLED
    for message in messages:
        _lease_runs_out(message)
    assert run_worker(smtp_server).returncode == 0
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    ids = [r.message["Message-ID"] for r in smtp_server.received]
    assert set(ids) == {m.message_id for m in messages}
    # Only the mail in hand when the worker died went out twice.
    assert len(ids) == len(messages) + 1
