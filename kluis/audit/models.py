"""The audit chain, the reveal ledger and the disclosure ledger.

Audit entries are append-only and hash-chained: each entry's hash covers the previous
entry's hash and its own canonical payload. No entry holds plain personal data;
people appear by their pseudonymous subject id only, so shredding a person leaves
the chain intact.
"""

from __future__ import annotations

from django.db import models

GENESIS = "0" * 64


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
    categories = models.JSONField()
    audit_seq = models.PositiveBigIntegerField()

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

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.recipient} / {self.purpose}"
