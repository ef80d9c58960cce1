"""The audit chain, the reveal ledger and the disclosure ledger.

Audit entries are append-only and hash-chained: each entry's hash covers the previous
entry's hash and its own canonical payload. No entry holds plain personal data;
people appear by their pseudonymous subject id only, so shredding a person leaves
the chain intact.
"""

from __future__ import annotations

from django.db import models

GENESIS = "0" * 64


class Withholding(models.Model):
    """A matter the person may not be told of yet, such as a legal order under secrecy.

    Audit entries, staff reveals and disclosures made while handling it carry it; the
    person's own views (my data, the access export, their mail) leave them out while it
    holds. It ends on `until` or when someone lifts it; then they appear with their
    original dates. The privacy officer always sees them.
    """

    subject = models.UUIDField(db_index=True)
    reason = models.CharField(max_length=40)
    # What it concerns (a register entry's id), not personal data.
    reference = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    until = models.DateField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=80, blank=True)

    def __str__(self) -> str:
        return f"withholding {self.reason} {self.reference}"


class AuditEntry(models.Model):
    seq = models.PositiveBigIntegerField(primary_key=True)
    at = models.DateTimeField()
    action = models.CharField(max_length=64)
    actor = models.CharField(max_length=80)
    subject = models.UUIDField(null=True, blank=True, db_index=True)
    # Canonical JSON of every field above plus `data`; what the hash covers.
    payload = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Outside the hashed payload: whether the person may see this entry yet.
    withholding = models.ForeignKey(
        Withholding, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class AuditHead(models.Model):
    """One row: the newest entry. Appends lock it, so the chain never forks."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"head #{self.seq}"


class RevealRecord(models.Model):
    """A staff member's look at one person's data, for that person's "my data" page."""

    subject = models.UUIDField(db_index=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=80)
    purpose = models.CharField(max_length=80)
    # The case the look served ("order:<id>"), for purposes that need one; "" otherwise.
    case = models.CharField(max_length=120, blank=True, default="")
    categories = models.JSONField()
    audit_seq = models.PositiveBigIntegerField()
    withholding = models.ForeignKey(
        Withholding, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.actor} / {self.purpose}"


class Disclosure(models.Model):
    """Personal data that left kluis: to whom, what, why, on what ground (art. 15(1)(c))."""

    subject = models.UUIDField(db_index=True)
    at = models.DateTimeField()
    recipient = models.CharField(max_length=80)
    purpose = models.CharField(max_length=80)
    categories = models.JSONField()
    legal_basis = models.CharField(max_length=40)
    # The order, consent or legal order it went under (a reference, not personal data).
    reference = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=80)
    audit_seq = models.PositiveBigIntegerField()
    withholding = models.ForeignKey(
        Withholding, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.recipient} / {self.purpose}"
