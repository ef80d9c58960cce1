"""Queueing: in the caller's transaction, once per dedupe key, nothing personal in plain."""

import json
import threading
import time
import uuid

import pytest
from django.db import connections, transaction

from kluis.audit.models import AuditEntry
from kluis.mail.delivery import deliver_due
from kluis.mail.emails import TEST_MESSAGE
from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import MailError, mail_queue
from kluis.mail.tests.conftest import ADDRESS, queue_test_mail
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import SealedValue
from kluis.vault.keys import KeyScope, shred

pytestmark = pytest.mark.django_db(databases="__all__")


class Boom(Exception):
    pass


@mail_kind(template="mail/other_kind", purpose="order_status", references=())
def _other_kind(context, actor):
    return {}


@mail_kind(
    template="mail/answer", purpose="answer_questions", references=(), retention="contact_request"
)
def _answer(context, actor):
    return {}


# contract_administration is for staff and the customer, not for the mail worker.
@mail_kind(template="mail/staff_only", purpose="contract_administration", references=())
def _staff_only(context, actor):
    return {}


def test_a_mail_queued_in_a_transaction_that_rolls_back_is_never_sent(smtp_settings):
    with pytest.raises(Boom), transaction.atomic():
        queue_test_mail(dedupe_key="order:1:status:paid")
        raise Boom  # the change that caused the mail fails
    assert not OutboxMessage.objects.exists()
    assert not AuditEntry.objects.filter(action="mail.queued").exists()
    assert deliver_due(worker="w").handled == 0
    assert smtp_settings.received == []


def test_a_mail_queued_in_a_transaction_that_commits_is_sent(smtp_settings):
    with transaction.atomic():
        queue_test_mail(dedupe_key="order:1:status:paid")
    assert deliver_due(worker="w").sent == 1
    assert [r.rcpt_tos for r in smtp_settings.received] == [[ADDRESS]]


def test_the_same_dedupe_key_queues_one_mail(smtp_settings):
    subject = uuid.uuid4()
    first = queue_test_mail(to_subject=subject, dedupe_key="order:7:status:paid")
    second = queue_test_mail(to_subject=subject, dedupe_key="order:7:status:paid")
    assert second.pk == first.pk
    assert OutboxMessage.objects.count() == 1
    assert AuditEntry.objects.filter(action="mail.queued").count() == 1
    deliver_due(worker="w")
    assert len(smtp_settings.received) == 1
    # Queued again after it went out: still the one mail.
    assert queue_test_mail(to_subject=subject, dedupe_key="order:7:status:paid").pk == first.pk
    assert deliver_due(worker="w").handled == 0 and len(smtp_settings.received) == 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_transactions_queuing_the_same_key_at_once_make_one_mail():
    start = threading.Barrier(2)
    ids: list[uuid.UUID] = []
    errors: list[BaseException] = []

    def caller() -> None:
        try:
            start.wait()
            with transaction.atomic():
                ids.append(queue_test_mail(dedupe_key="order:9:status:paid").pk)
                time.sleep(0.2)  # hold the transaction open while the other one tries
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=caller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids) == 2 and ids[0] == ids[1]
    assert OutboxMessage.objects.count() == 1


def test_a_dedupe_key_of_another_kind_of_mail_is_refused():
    queue_test_mail(dedupe_key="order:3:status:paid")
    with pytest.raises(MailError, match="already names"):
        mail_queue(
            template="mail/other_kind",
            to_subject=uuid.uuid4(),
            recipient_email=ADDRESS,
            language="nl",
            context={},
            dedupe_key="order:3:status:paid",
        )


def test_the_address_is_stored_sealed_and_never_in_the_audit():
    message = queue_test_mail()
    raw = OutboxMessage.objects.values_list("recipient", flat=True).get(pk=message.pk)
    assert ADDRESS.encode() not in bytes(raw)
    row = OutboxMessage.objects.get(pk=message.pk)
    assert isinstance(row.recipient, SealedValue)
    assert row.recipient.category == "user.contact.email"
    assert row.recipient.subject == message.to_subject
    payloads = " ".join(AuditEntry.objects.values_list("payload", flat=True))
    assert "mail.queued" in payloads and ADDRESS not in payloads
    entry = AuditEntry.objects.get(action="mail.queued")
    assert entry.subject == message.to_subject
    assert json.loads(entry.payload)["data"]["template"] == TEST_MESSAGE


def test_the_message_id_is_fixed_when_the_mail_is_queued():
    message = queue_test_mail()
    assert message.message_id.startswith("<") and message.message_id.endswith("@winkeltjes.net>")
    assert OutboxMessage.objects.get(pk=message.pk).message_id == message.message_id


@pytest.mark.parametrize(
    ("context", "problem"),
    [
        ({"note": {"name": "Jan"}}, "refers to rows by id"),
        ({"note": ["Jan"]}, "refers to rows by id"),
        ({"note": "x" * 201}, "longer than 200"),
        ({"name": "Jan"}, "no reference 'name'"),
    ],
)
def test_context_that_is_not_a_reference_is_refused(context, problem):
    with pytest.raises(MailError, match=problem):
        mail_queue(
            template=TEST_MESSAGE,
            to_subject=uuid.uuid4(),
            recipient_email=ADDRESS,
            language="nl",
            context=context,
            dedupe_key="mail:test:1",
        )
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"recipient_email": "jan@example.nl\r\nBcc: x@example.com"}, "not one valid email"),
        ({"recipient_email": "jan@example.nl, piet@example.nl"}, "not one valid email"),
        ({"language": "de"}, "no language 'de'"),
        ({"dedupe_key": "reset:jan@example.nl"}, "a dedupe key is"),
        ({"dedupe_key": "order 1 paid"}, "a dedupe key is"),
    ],
)
def test_a_bad_recipient_language_or_key_is_refused(overrides, problem):
    with pytest.raises(MailError, match=problem):
        queue_test_mail(**overrides)
    assert not OutboxMessage.objects.exists()


def test_an_undeclared_kind_is_refused():
    with pytest.raises(MailError, match="no mail kind 'mail/nope'"):
        mail_queue(
            template="mail/nope",
            to_subject=uuid.uuid4(),
            recipient_email=ADDRESS,
            language="nl",
            context={},
            dedupe_key="mail:nope:1",
        )


def test_a_kind_whose_purpose_the_mailer_may_not_serve_is_refused():
    with pytest.raises(MailError, match="may not act for purpose 'contract_administration'"):
        mail_queue(
            template="mail/staff_only",
            to_subject=uuid.uuid4(),
            recipient_email=ADDRESS,
            language="nl",
            context={},
            dedupe_key="mail:staff-only:1",
        )


def test_an_enquirers_address_is_sealed_in_the_class_of_their_question():
    subject = uuid.uuid4()
    message = mail_queue(
        template="mail/answer",
        to_subject=subject,
        recipient_email=ADDRESS,
        language="nl",
        context={},
        dedupe_key="question:5:answer",
    )
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.recipient is None
    assert row.sealed_recipient.scope == KeyScope(subject, "contact_request")
    # Shredding the enquirer's contact_request key takes the outbox's copy with it.
    shred([KeyScope(subject, "contact_request")])
    with pytest.raises(KeyShredded):
        OutboxMessage.objects.get(pk=message.pk).sealed_recipient.open()


def test_a_kind_cannot_name_a_class_the_outbox_does_not_seal_in():
    with pytest.raises(ValueError, match="no address in retention class 'fiscal'"):
        mail_kind(template="mail/x", purpose="invoicing", references=(), retention="fiscal")
