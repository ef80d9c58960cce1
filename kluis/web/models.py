"""The public site: questions from the contact form, and statistics without personal data.

A question is a data subject of its own (its id is the vault subject): the sender
may be a visitor, a prospect or a customer, and the form must not tell which, so
nothing links a question to a customer. Its retention class, contact_request, runs
from `closed_at`; with one key per question, shredding that key after the period
erases exactly one question and its answers.

The statistics hold counts per day, never a visitor: no IP address, no cookie
value, no user agent (see kluis/web/statistics.py).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.vault.fields import BlindIndexField, SealedField, SealedModel

CONTACT_RETENTION = "contact_request"


class QuestionQuerySet(models.QuerySet["Question"]):
    def open(self) -> QuestionQuerySet:
        return self.filter(closed_at__isnull=True)


class Question(SealedModel):
    name = SealedField(_("naam"), category="user.name", retention=CONTACT_RETENTION)
    email = SealedField(
        _("e-mailadres"), category="user.contact.email", retention=CONTACT_RETENTION
    )
    # Lets a privacy officer find someone's questions for an access or erasure request.
    email_index = BlindIndexField(source="email", kind="email")
    message = SealedField(_("vraag"), category="kluis.contact_message")
    # A short code for the sender's and staff's correspondence; not personal.
    reference = models.CharField(max_length=12, unique=True)
    language = models.CharField(max_length=8, default="nl")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The trigger of the contact_request retention class.
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("vraag via het contactformulier")
        verbose_name_plural = _("vragen via het contactformulier")

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Answer(SealedModel):
    """Our answer, kept with the question (R12) and sealed under the question's key."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    number = models.PositiveIntegerField()
    body = SealedField(_("ons antwoord"), category="kluis.contact_message")
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    vault_subject_field: ClassVar[str] = "question_id"

    class Meta:
        ordering = ["question", "number"]
        verbose_name = _("antwoord op een vraag")
        verbose_name_plural = _("antwoorden op vragen")
        constraints = [
            models.UniqueConstraint(fields=["question", "number"], name="web_answer_number")
        ]

    def __str__(self) -> str:
        return f"answer {self.number} to {self.question_id}"


class PageViewDay(models.Model):
    """Views of one path on one day, by the host of the referring site (if another site)."""

    day = models.DateField()
    path = models.CharField(max_length=200)
    referrer_host = models.CharField(max_length=100, blank=True, default="")
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "path", "referrer_host"], name="web_pageview_day_path_referrer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.path} {self.views}"


class VisitorDay(models.Model):
    """Browsers with the statistics cookie (so: consent) seen on one day.

    Counted from the date the cookie itself carries, so no visitor is stored here or
    anywhere else: `visitors` counts each such browser once a day, `repeat_visitors` those
    that had been counted on an earlier day.
    """

    day = models.DateField(unique=True)
    visitors = models.PositiveIntegerField(default=0)
    repeat_visitors = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} {self.visitors}"
