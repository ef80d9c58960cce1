"""Writes of the mail app: queue a mail, and the worker's claim and outcome.

`mail_queue` runs inside the caller's transaction: the mail exists exactly when the
change that causes it commits. The worker's services (`mail_claim`,
`mail_record_sent`, `mail_record_failure`) are durable: each commits on its own
before the worker takes its next step, since an SMTP server cannot take part in our
transaction and the order "claim committed, then send, then sent committed" is what
makes a crash recoverable (kluis/mail/delivery.py).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F

from kluis.audit.chain import audit_append
from kluis.mail.kinds import UnknownKind, get_generator, get_kind
from kluis.mail.models import RECIPIENT_FIELDS, OutboxAttachment, OutboxMessage, claimable_q
from kluis.policy.enforce import Actor, PolicyViolation, check_reveal
from kluis.vault import keys

MAILER = Actor.system("mail")
RECIPIENT_CATEGORY = "user.contact.email"
# Twelve attempts, 1 minute apart at first and doubling up to 6 hours: about a day
# of trying before a mail is marked failed for an operator to look at.
MAX_ATTEMPTS = 12
BACKOFF_FIRST = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=6)
# References are ids and codes; a longer string is a sign of text that belongs in a row.
MAX_REFERENCE_LENGTH = 200
_DEDUPE_KEY = re.compile(r"[A-Za-z0-9._:/=+-]{1,200}")

Reference = str | int | bool | None


class MailError(Exception):
    """A mail that cannot be queued as asked."""


@dataclass(frozen=True)
class AttachmentRef:
    """An attachment made at delivery by a declared generator from non-personal ids."""

    filename: str
    mimetype: str
    generator: str
    ref: Mapping[str, Reference] = field(default_factory=dict)


@transaction.atomic
def mail_queue(
    *,
    template: str,
    to_subject: uuid.UUID,
    recipient_email: str,
    language: str,
    context: Mapping[str, Reference],
    dedupe_key: str,
    attachments: Sequence[AttachmentRef] = (),
    shred_after_send: bool = False,
) -> OutboxMessage:
    """Queue one mail in the caller's transaction; the same dedupe key queues it once.

    `shred_after_send`: `to_subject` is a subject of this mail alone, whose key is
    shredded as soon as the mail is sent, so that no copy of the address outlives it.

    A second call with a dedupe key already queued returns the first mail and queues
    nothing, even when two transactions race: the key is unique in the database.
    """
    try:
        kind = get_kind(template)
        for attachment in attachments:
            get_generator(attachment.generator)
    except UnknownKind as exc:
        raise MailError(str(exc)) from None
    if not _DEDUPE_KEY.fullmatch(dedupe_key):
        raise MailError("a dedupe key is 1-200 characters of letters, digits and ._:/=+-")
    _check_references(context, allowed=kind.references)
    for attachment in attachments:
        _check_references(attachment.ref, allowed=None)
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise MailError(f"no language {language!r}; kluis speaks {settings.LANGUAGES}")
    _check_address(recipient_email)
    try:
        # The worker will reveal the address for the kind's purpose: refuse now, in
        # the caller's transaction, what the policy would refuse then.
        check_reveal(
            category=RECIPIENT_CATEGORY, purpose=kind.purpose, actor=MAILER, subject=to_subject
        )
    except PolicyViolation as exc:
        raise MailError(f"mail kind {template!r}: {exc}") from None
    existing = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return _the_same_mail(existing, template)

    message = OutboxMessage(
        to_subject=to_subject,
        dedupe_key=dedupe_key,
        template=template,
        language=language,
        context=dict(context),
        message_id=make_msgid(domain=_sender_domain()),
        shred_after_send=shred_after_send,
    )
    setattr(message, RECIPIENT_FIELDS[kind.retention], recipient_email)
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            OutboxAttachment.objects.bulk_create(
                OutboxAttachment(
                    message=message,
                    position=position,
                    filename=attachment.filename,
                    mimetype=attachment.mimetype,
                    generator=attachment.generator,
                    ref=dict(attachment.ref),
                )
                for position, attachment in enumerate(attachments)
            )
    except IntegrityError:
        # Another transaction queued the same key and committed first.
        existing = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return _the_same_mail(existing, template)
    audit_append(
        action="mail.queued",
        actor=MAILER.ref,
        subject=to_subject,
        data={"mail": str(message.pk), "template": template, "dedupe_key": dedupe_key},
    )
    return message


def _the_same_mail(existing: OutboxMessage, template: str) -> OutboxMessage:
    if existing.template != template:
        raise MailError(
            f"dedupe key {existing.dedupe_key!r} already names a {existing.template!r} mail"
        )
    return existing


def _check_references(values: Mapping[str, object], *, allowed: frozenset[str] | None) -> None:
    if allowed is not None:
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise MailError(f"this kind of mail takes no reference {unknown[0]!r}")
    for key, value in values.items():
        if value is not None and not isinstance(value, str | int | bool):
            raise MailError(
                f"reference {key!r} is a {type(value).__name__}; a mail refers to rows by "
                "id or code (str, int, bool), and renders personal values from those rows"
            )
        if isinstance(value, str) and len(value) > MAX_REFERENCE_LENGTH:
            raise MailError(f"reference {key!r} is longer than {MAX_REFERENCE_LENGTH} characters")


def _check_address(address: str) -> None:
    try:
        validate_email(address)
    except ValidationError:
        raise MailError("the recipient is not one valid email address") from None


def _sender_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "kluis.invalid"


# --- the worker's steps ---------------------------------------------------------------


@transaction.atomic(durable=True)
def mail_claim(*, message_id: uuid.UUID, worker: str, now: dt.datetime) -> OutboxMessage | None:
    """Take one due mail for `worker`, or None when another worker has it.

    One conditional UPDATE: it sets the lease only if the row is still claimable
    when the database applies it, so of two workers racing for a row one gets 1
    row updated and the other 0 (PostgreSQL re-checks the condition on the row the
    winner committed; SQLite runs one writer at a time).
    """
    taken = (
        OutboxMessage.objects.filter(claimable_q(now), pk=message_id).update(
            status=OutboxMessage.Status.SENDING,
            claimed_by=worker,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
        == 1
    )
    if not taken:
        return None
    message = OutboxMessage.objects.get(pk=message_id)
    audit_append(
        action="mail.claimed",
        actor=MAILER.ref,
        subject=message.to_subject,
        data={"mail": str(message.pk), "attempt": message.attempts, "worker": worker},
    )
    return message


@transaction.atomic(durable=True)
def mail_record_sent(*, message: OutboxMessage, worker: str, now: dt.datetime) -> bool:
    """The server accepted the mail: mark it sent and drop the address.

    False when this worker's lease had run out and another worker took the mail
    over; that worker sends it again under the same Message-ID.
    """
    recorded = (
        OutboxMessage.objects.filter(
            pk=message.pk, status=OutboxMessage.Status.SENDING, claimed_by=worker
        ).update(
            status=OutboxMessage.Status.SENT,
            sent_at=now,
            recipient=None,
            recipient_enquirer=None,
            last_error="",
        )
        == 1
    )
    audit_append(
        action="mail.sent" if recorded else "mail.sent_after_lease",
        actor=MAILER.ref,
        subject=message.to_subject,
        data={"mail": str(message.pk), "attempt": message.attempts, "worker": worker},
    )
    if recorded and message.shred_after_send:
        # The server has the mail. Should recording it fail after this, a later worker
        # cannot open the address and marks the mail failed rather than sending twice.
        keys.shred([keys.KeyScope(message.to_subject, get_kind(message.template).retention)])
    return recorded


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4, ... minutes, capped."""
    return min(BACKOFF_FIRST * (1 << min(max(attempts - 1, 0), 20)), BACKOFF_MAX)


@transaction.atomic(durable=True)
def mail_record_failure(
    *, message: OutboxMessage, worker: str, error: str, permanent: bool, now: dt.datetime
) -> OutboxMessage.Status | None:
    """Schedule the next attempt after a backoff, or mark the mail failed.

    `error` is the error's class and codes, never a server's text. Returns the new
    status, or None when this worker no longer held the mail.
    """
    give_up = permanent or message.attempts >= MAX_ATTEMPTS
    status = OutboxMessage.Status.FAILED if give_up else OutboxMessage.Status.QUEUED
    next_attempt_at = now if give_up else now + backoff(message.attempts)
    updated = OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxMessage.Status.SENDING, claimed_by=worker
    ).update(
        status=status,
        next_attempt_at=next_attempt_at,
        claimed_by="",
        claimed_at=None,
        last_error=error[:200],
    )
    if not updated:
        return None
    data: dict[str, object] = {"mail": str(message.pk), "attempt": message.attempts, "error": error}
    if not give_up:
        data["next_attempt_at"] = next_attempt_at.isoformat()
    audit_append(
        action="mail.failed" if give_up else "mail.retry",
        actor=MAILER.ref,
        subject=message.to_subject,
        data=data,
    )
    return status
