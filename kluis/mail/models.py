"""The outbox: mail written in the transaction of the change that causes it.

A row holds what is needed to render and send one mail, and nothing personal in
plain text. The only personal value is the recipient's address, sealed under the
recipient's key (category user.contact.email) and dropped once the mail is sent.
The subject line and bodies are not stored at all: they are rendered at delivery
time from the kind's templates and from the database rows that the context refers
to by id (see kluis/mail/kinds.py), so the outbox keeps no second copy of a name, an
order or a question, and a shredded person's queued mail can no longer be read.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.vault.fields import SealedField, SealedModel, SealedValue

# Which column seals the address, by the retention class of the record it comes from.
RECIPIENT_FIELDS = {"customer_record": "recipient", "contact_request": "recipient_enquirer"}

# A worker that claimed a mail and then went silent for this long is presumed dead,
# and another worker may take the mail over. Far longer than one delivery can take
# (render plus an SMTP exchange whose every step times out after EMAIL_TIMEOUT).
LEASE = dt.timedelta(minutes=5)


class OutboxMessageQuerySet(models.QuerySet["OutboxMessage"]):
    def claimable(self, now: dt.datetime) -> OutboxMessageQuerySet:
        """Due and queued, or left in "sending" by a worker whose lease ran out."""
        return self.filter(claimable_q(now))


def claimable_q(now: dt.datetime) -> Q:
    return Q(status=OutboxMessage.Status.QUEUED, next_attempt_at__lte=now) | Q(
        status=OutboxMessage.Status.SENDING, claimed_at__lt=now - LEASE
    )


class OutboxMessage(SealedModel):
    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    # The data subject the mail is for: its pseudonymous id, whose key seals the address.
    to_subject = models.UUIDField(db_index=True)
    # The address, sealed in the retention class of the record it was copied from (the
    # kind says which), so it is shredded with that record: a customer's or account's
    # address, or an enquirer's, kept no longer than their question.
    recipient = SealedField(category="user.contact.email")
    recipient_enquirer = SealedField(category="user.contact.email", retention="contact_request")
    # One logical mail, e.g. "order:123:status:paid"; queued at most once. Never personal.
    dedupe_key = models.CharField(max_length=200, unique=True)
    # The kind of mail: the folder of its subject.txt, body.txt and body.html.
    template = models.CharField(max_length=100)
    language = models.CharField(max_length=8)
    # References (ids, codes, a status) the kind renders from; never personal values.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The error class and SMTP codes only: a server's text may quote the address.
    last_error = models.CharField(max_length=200, blank=True)
    # Fixed at queue time, so every attempt carries the same header and a receiver
    # that got the mail twice (a crash after the server accepted it) can tell.
    message_id = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The last mail to an address nothing else keeps (the answer to an erasure): its
    # key, of a subject used for this mail only, is shredded once the server took it.
    shred_after_send = models.BooleanField(default=False)

    vault_subject_field: ClassVar[str] = "to_subject"

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("e-mail van ons aan je")
        verbose_name_plural = _("e-mails van ons aan je")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="mail_due")]

    def __str__(self) -> str:
        return f"{self.template} {self.status} ({self.pk})"

    @property
    def sealed_recipient(self) -> SealedValue | None:
        value = self.recipient if self.recipient is not None else self.recipient_enquirer
        assert value is None or isinstance(value, SealedValue)
        return value


class OutboxAttachment(models.Model):
    """An attachment by reference: a registered generator and the ids it needs.

    The bytes are made again at each attempt by a generator that reads documents the
    owning app already keeps (an order's agreement PDF), so the outbox stores no copy
    of them and a retry after a crash sends the same file.
    """

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveSmallIntegerField()
    filename = models.CharField(max_length=200)
    mimetype = models.CharField(max_length=100)
    generator = models.CharField(max_length=100)
    ref = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="mail_attachment_order")
        ]

    def __str__(self) -> str:
        return self.filename
