"""Data-subject requests, ID copies, art. 19 follow-ups, erasures and police requests.

A request row holds no personal data in plain text. Who the request is about is a
pseudonymous subject id; what the requester typed (name, email on the public form) is
sealed under the request's own subject id, in the class rights_request, so that it
outlives neither the request's retention nor an erasure of the person it concerns.
An ID copy is sealed under the request's subject id as well, in id_verification, and
is destroyed (row deleted, key shredded) as soon as verification is decided.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.vault.fields import SealedField, SealedFileField, SealedModel


class RequestQuerySet(models.QuerySet["RightsRequest"]):
    def for_subject(self, subject: uuid.UUID) -> RequestQuerySet:
        return self.filter(subject=subject)

    def open(self) -> RequestQuerySet:
        return self.filter(status__in=RightsRequest.OPEN_STATUSES)


class RightsRequest(SealedModel):
    class Kind(models.TextChoices):
        ACCESS = "access", _("inzage")
        PORTABILITY = "portability", _("overdracht")
        ERASURE = "erasure", _("verwijdering")
        RECTIFICATION = "rectification", _("correctie")
        RESTRICTION = "restriction", _("beperking")
        OBJECTION = "objection", _("bezwaar")

    class Channel(models.TextChoices):
        PORTAL = "portal", _("klantportaal")
        PUBLIC = "public", _("formulier op de website")
        STAFF = "staff", _("per e-mail of brief, geregistreerd door ons")

    class Status(models.TextChoices):
        UNCONFIRMED = "unconfirmed", _("wacht op bevestiging van het e-mailadres")
        OPEN = "open", _("in behandeling")
        AWAITING_ID = "awaiting_id", _("wacht op kopie identiteitsbewijs")
        WAITING = "waiting", _("uitgesteld: er loopt nog iets")
        DONE = "done", _("afgehandeld")
        REFUSED = "refused", _("afgewezen")

    class Verification(models.TextChoices):
        NONE = "", _("nog niet")
        ACCOUNT = "account", _("ingelogd account")
        EMAIL = "email", _("bevestigde link naar het adres in ons bestand")
        ID_COPY = "id_copy", _("afgeschermde kopie identiteitsbewijs")
        NOT_FOUND = "not_found", _("adres niet in ons bestand")

    OPEN_STATUSES: ClassVar[tuple[str, ...]] = ("open", "awaiting_id", "waiting")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    # The person the request is about, once known (a customer id); pseudonymous.
    subject = models.UUIDField(null=True, blank=True, db_index=True)
    requester_name = SealedField(
        _("naam bij het verzoek"), category="user.name", retention="rights_request"
    )
    requester_email = SealedField(
        _("e-mailadres bij het verzoek"), category="user.contact.email", retention="rights_request"
    )
    language = models.CharField(max_length=2, default="nl")
    received_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField()
    extended_to = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    extension_notified_at = models.DateTimeField(null=True, blank=True)
    verification = models.CharField(
        max_length=10, choices=Verification.choices, default="", blank=True
    )
    verification_decided_at = models.DateTimeField(null=True, blank=True)
    # The random part a confirmation or upload link is derived from, with a keystore
    # secret (kluis.rights.links): the database alone cannot make a working link.
    link_nonce = models.CharField(max_length=32, blank=True)
    link_expires_at = models.DateTimeField(null=True, blank=True)
    registered_by = models.CharField(max_length=80, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The answer as sent: statuses, category keys, dates and legal bases; no values.
    outcome = models.JSONField(default=dict, blank=True)

    objects = RequestQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "received_at"]
        verbose_name = _("verzoek over je privacyrechten")
        verbose_name_plural = _("verzoeken over privacyrechten")

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"

    @property
    def deadline(self) -> dt.date:
        return self.extended_to or self.due_on

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, today: dt.date | None = None) -> bool:
        return self.is_open and self.deadline < (today or timezone.localdate())

    @property
    def is_verified(self) -> bool:
        return self.verification in (
            self.Verification.ACCOUNT,
            self.Verification.EMAIL,
            self.Verification.ID_COPY,
        )


class IdCopy(SealedModel):
    """A masked copy of an identity document, base64 in a sealed field; short-lived.
    Wherever it is shown as a person's data, it is a file, never its base64 text."""

    request = models.OneToOneField(RightsRequest, on_delete=models.CASCADE, related_name="id_copy")
    content = SealedFileField(
        _("kopie identiteitsbewijs"),
        category="kluis.id_copy",
        export_name="documenten/kopie-identiteitsbewijs",
    )
    mimetype = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    masked_confirmed = models.BooleanField(default=False)
    uploaded_at = models.DateTimeField(default=timezone.now)

    vault_subject_field: ClassVar[str] = "request_id"

    class Meta:
        verbose_name = _("kopie identiteitsbewijs")
        verbose_name_plural = _("kopieën identiteitsbewijs")

    def __str__(self) -> str:
        return f"id copy of {self.request_id}"


class Erasure(models.Model):
    """That a person was erased, and when: so a second request gets a clear answer."""

    subject = models.UUIDField(unique=True)
    request = models.ForeignKey(RightsRequest, null=True, on_delete=models.SET_NULL)
    erased_at = models.DateTimeField(default=timezone.now)
    outcome = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"erasure of {self.subject}"


class FollowUp(models.Model):
    """Art. 19 GDPR: a recipient that received data which has since been rectified."""

    subject = models.UUIDField(db_index=True)
    recipient = models.CharField(max_length=80)
    categories = models.JSONField()
    request = models.ForeignKey(RightsRequest, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"follow-up {self.recipient} for {self.subject}"


class PoliceRequest(models.Model):
    """A request from police or justice, under a legal order (R9, R30)."""

    class Status(models.TextChoices):
        REGISTERED = "registered", _("wacht op beoordeling")
        APPROVED = "approved", _("goedgekeurd")
        REFUSED = "refused", _("afgewezen")
        ANSWERED = "answered", _("beantwoord")

    authority = models.CharField(_("verzoekende instantie"), max_length=200)
    legal_basis = models.CharField(_("wettelijke grondslag"), max_length=200)
    order_reference = models.CharField(_("kenmerk van de vordering"), max_length=200)
    subject = models.UUIDField(db_index=True)
    categories = models.JSONField()
    approved_categories = models.JSONField(default=list, blank=True)
    may_inform_subject = models.BooleanField(default=False)
    # While the person may not be told: until this date (exclusive), or until lifted.
    confidential_until = models.DateField(null=True, blank=True)
    withholding = models.ForeignKey(
        "audit.Withholding", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REGISTERED)
    registered_by = models.CharField(max_length=80)
    registered_at = models.DateTimeField(default=timezone.now)
    decided_by = models.CharField(max_length=80, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    disclosure_seq = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-registered_at"]

    def __str__(self) -> str:
        return f"police request {self.pk}"

    @property
    def is_confidential(self) -> bool:
        from kluis.audit.withholding import holds

        return holds(self.withholding)


class ProcessingLimit(models.Model):
    """A restriction (art. 18 GDPR) or an upheld objection (art. 21) that holds.

    While it holds, kluis.rights.limits refuses reveals of the person's data: during
    a restriction for every purpose the policy does not mark `during_restriction`;
    after an upheld objection for the purposes it names.
    """

    class Kind(models.TextChoices):
        RESTRICTION = "restriction", _("beperking van de verwerking")
        OBJECTION = "objection", _("toegewezen bezwaar")

    subject = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The purposes an objection ends (policy keys); empty for a restriction.
    purposes = models.JSONField(default=list, blank=True)
    request = models.ForeignKey(RightsRequest, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.CharField(max_length=80)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=80, blank=True)
    # A restriction ends on an announced day (art. 18(3) GDPR): the person is mailed
    # the policy's notice days before it, then the worker lifts it on that day.
    ends_on = models.DateField(null=True, blank=True)
    end_noticed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]
        indexes = [models.Index(fields=["subject", "ended_at"], name="rights_limit_holds")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.subject}"
