"""Delivery to a real SMTP server: what arrives, retries, failures, and two workers."""

import datetime as dt
import json
import threading
import time
import uuid
from collections import Counter

import pytest
from django.core.mail import get_connection
from django.db import connections
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.mail import delivery
from kluis.mail.delivery import deliver_due, describe_error
from kluis.mail.kinds import attachment_generator
from kluis.mail.models import LEASE, OutboxMessage
from kluis.mail.services import MAX_ATTEMPTS, AttachmentRef, backoff, mail_claim, mail_queue
from kluis.mail.tests.conftest import ADDRESS, queue_test_mail
from kluis.vault.keys import KeyScope, shred

pytestmark = pytest.mark.django_db(databases="__all__")

PDF = b"%PDF-1.4\n% kluis test document\n%%EOF\n"


@attachment_generator("test.agreement_pdf")
def _agreement_pdf(ref, actor):
    return PDF + str(ref["order_id"]).encode()


def _audit(action: str) -> list[dict]:
    return [
        json.loads(payload)["data"]
        for payload in AuditEntry.objects.filter(action=action).values_list("payload", flat=True)
    ]


def test_a_queued_mail_arrives_with_subject_both_parts_and_its_attachments(smtp_settings):
    message = mail_queue(
        template="mail/test_message",
        to_subject=uuid.uuid4(),
        recipient_email=ADDRESS,
        language="nl",
        context={"note": "na de wissel van relay"},
        dedupe_key="order:42:confirmation",
        attachments=[
            AttachmentRef(
                "overeenkomst.pdf", "application/pdf", "test.agreement_pdf", {"order_id": 42}
            ),
            AttachmentRef(
                "verwerkersovereenkomst.pdf",
                "application/pdf",
                "test.agreement_pdf",
                {"order_id": 43},
            ),
        ],
    )
    report = deliver_due(worker="w")
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)

    [received] = smtp_settings.received
    assert received.rcpt_tos == [ADDRESS]
    assert received.mail_from == "noreply@winkeltjes.net"
    mail = received.message
    assert mail["To"] == ADDRESS
    assert mail["Subject"] == "Testbericht van winkeltjes.net: na de wissel van relay"
    assert mail["Message-ID"] == message.message_id
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "Dit is een testbericht." in received.text and "na de wissel van relay" in received.text
    assert "Dit is een testbericht." in received.html and '<html lang="nl">' in received.html
    assert received.attachments() == [
        ("overeenkomst.pdf", "application/pdf", PDF + b"42"),
        ("verwerkersovereenkomst.pdf", "application/pdf", PDF + b"43"),
    ]

    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.SENT and row.attempts == 1
    assert row.sent_at is not None and row.last_error == ""
    assert row.recipient is None  # the address is dropped once it has served
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert {"mail.queued", "mail.claimed", "vault.reveal", "mail.sent"} <= set(actions)
    payloads = " ".join(AuditEntry.objects.values_list("payload", flat=True))
    assert ADDRESS not in payloads and "wissel" not in payloads


def test_a_451_reply_is_retried_after_a_backoff(smtp_settings):
    smtp_settings.inbox.data_replies.append("451 4.3.0 try later")
    message = queue_test_mail()
    start = timezone.now()

    assert deliver_due(worker="w", now=start).retried == 1
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.QUEUED and row.attempts == 1
    assert row.next_attempt_at == start + dt.timedelta(minutes=1)
    assert row.last_error == "SMTPDataError 451 4.3.0"
    assert row.claimed_by == "" and row.recipient is not None
    assert smtp_settings.received == []

    assert deliver_due(worker="w", now=start + dt.timedelta(seconds=59)).handled == 0
    assert deliver_due(worker="w", now=start + dt.timedelta(minutes=1)).sent == 1
    assert len(smtp_settings.received) == 1
    row.refresh_from_db()
    assert row.status == OutboxMessage.Status.SENT and row.attempts == 2
    [retry] = _audit("mail.retry")
    assert retry["error"] == "SMTPDataError 451 4.3.0" and retry["attempt"] == 1


def test_the_backoff_doubles_from_a_minute_up_to_six_hours():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(10) == dt.timedelta(hours=6) and backoff(1000) == dt.timedelta(hours=6)


def test_a_mail_that_keeps_failing_is_marked_failed_after_the_last_attempt(smtp_settings):
    smtp_settings.inbox.data_replies.extend(["421 4.7.0 busy"] * MAX_ATTEMPTS)
    message = queue_test_mail()
    now = timezone.now()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        deliver_due(worker="w", now=now)
        row = OutboxMessage.objects.get(pk=message.pk)
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert row.status == OutboxMessage.Status.FAILED and row.attempts == MAX_ATTEMPTS
    assert waits[:3] == [dt.timedelta(minutes=1), dt.timedelta(minutes=2), dt.timedelta(minutes=4)]
    assert deliver_due(worker="w", now=now + dt.timedelta(days=30)).handled == 0
    assert smtp_settings.received == []
    assert len(_audit("mail.retry")) == MAX_ATTEMPTS - 1 and len(_audit("mail.failed")) == 1


def test_a_refused_recipient_fails_at_once_and_the_reply_text_is_not_kept(smtp_settings):
    smtp_settings.inbox.rcpt_replies.append(f"550 5.1.1 <{ADDRESS}>: Recipient address rejected")
    message = queue_test_mail()
    assert deliver_due(worker="w").failed == 1
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.FAILED and row.attempts == 1
    assert row.last_error == "SMTPRecipientsRefused 550"
    payloads = " ".join(AuditEntry.objects.values_list("payload", flat=True))
    assert ADDRESS not in payloads


def test_an_unreachable_server_is_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    message = queue_test_mail()
    assert deliver_due(worker="w").retried == 1
    assert OutboxMessage.objects.get(pk=message.pk).last_error == "ConnectionRefusedError"


def test_a_mail_whose_recipient_key_was_shredded_fails_without_sending(smtp_settings):
    message = queue_test_mail()
    shred([KeyScope(message.to_subject, "customer_record")])
    assert deliver_due(worker="w").failed == 1
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.FAILED and row.last_error == "KeyShredded"
    assert smtp_settings.received == []


def test_a_claimed_mail_is_not_taken_by_another_worker_until_its_lease_runs_out():
    message = queue_test_mail()
    now = timezone.now()
    assert mail_claim(message_id=message.pk, worker="a", now=now) is not None
    assert mail_claim(message_id=message.pk, worker="b", now=now + LEASE) is None
    taken = mail_claim(message_id=message.pk, worker="b", now=now + LEASE + dt.timedelta(seconds=1))
    assert taken is not None and taken.claimed_by == "b" and taken.attempts == 2


def test_smtp_errors_are_described_by_class_and_code_only():
    import smtplib

    refused = smtplib.SMTPRecipientsRefused({ADDRESS: (450, b"4.2.0 mailbox busy for jan")})
    assert describe_error(refused) == ("SMTPRecipientsRefused 450", False)
    data = smtplib.SMTPDataError(554, b"5.7.1 message from jan@example.nl refused")
    assert describe_error(data) == ("SMTPDataError 554 5.7.1", True)
    auth = smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials")
    assert describe_error(auth) == ("SMTPAuthenticationError 535 5.7.8", False)
    assert describe_error(TimeoutError()) == ("TimeoutError", False)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_workers_never_send_the_same_mail(smtp_server, monkeypatch):
    count = 16
    messages = [queue_test_mail() for _ in range(count)]
    listed = threading.Barrier(2, timeout=30)
    list_due = delivery.due_mail

    def due_mail_then_wait(**kwargs):
        # Both workers hold the same list of due mail before either claims one, so
        # every mail is claimed by exactly one of them and missed by the other.
        ids = list_due(**kwargs)
        listed.wait()
        return ids

    monkeypatch.setattr(delivery, "due_mail", due_mail_then_wait)
    errors: list[BaseException] = []
    reports = {}

    def worker(name: str) -> None:
        try:
            backend = get_connection(
                "django.core.mail.backends.smtp.EmailBackend",
                host=smtp_server.host,
                port=smtp_server.port,
                timeout=10,
                fail_silently=False,
            )
            reports[name] = deliver_due(
                worker=name,
                batch=count,
                connection=backend,
                on_step=lambda step, message: time.sleep(0.005),
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.sent for r in reports.values()) == count
    # Each of the 16 lost by one worker to the other: a claim is a conditional UPDATE.
    assert sum(r.missed for r in reports.values()) == count
    sent_ids = Counter(r.message["Message-ID"] for r in smtp_server.received)
    assert sent_ids == Counter({m.message_id: 1 for m in messages})
    claims = Counter(c["mail"] for c in _audit("mail.claimed"))
    assert claims == Counter({str(m.pk): 1 for m in messages})
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_a_mail_that_killed_every_worker_that_took_it_is_given_up(smtp_settings):
    message = queue_test_mail()
    # Claimed MAX_ATTEMPTS times, and each time its worker died before reporting back.
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING,
        attempts=MAX_ATTEMPTS,
        claimed_by="dead",
        claimed_at=timezone.now() - LEASE - dt.timedelta(seconds=1),
    )
    assert deliver_due(worker="w").failed == 1
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.status == OutboxMessage.Status.FAILED and row.last_error == "GaveUp: 12 attempts"
    assert smtp_settings.received == []
