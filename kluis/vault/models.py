"""The keystore: data keys per subject and retention class, wrapped by the master key.

These models live in their own database (see routers.py). Rows hold no plain key: a
data key is stored wrapped (AES-GCM under the master key) and shredding overwrites it.
"""

from __future__ import annotations

from django.db import models


class DataKey(models.Model):
    subject = models.UUIDField()
    retention_class = models.CharField(max_length=80)
    # The fiscal year for classes kept per year, "" otherwise.
    period = models.CharField(max_length=8, default="", blank=True)
    wrapped = models.BinaryField(null=True)
    master_kid = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    shredded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "retention_class", "period"], name="one_key_per_scope"
            ),
        ]
        indexes = [models.Index(fields=["retention_class", "period"])]

    def __str__(self) -> str:
        return f"{self.subject}/{self.retention_class}/{self.period or '-'}"

    @property
    def is_shredded(self) -> bool:
        return self.wrapped is None


class Secret(models.Model):
    """A named system key (blind index, audit signing), wrapped by the master key."""

    name = models.CharField(max_length=40, unique=True)
    wrapped = models.BinaryField()
    master_kid = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class BlindIndexGeneration(models.Model):
    """Which blind-index key is in force: one row, in the main database.

    Not in the keystore like the rest of the vault: it sits beside the indexes it
    describes, so re-indexing every row under a new key and switching to that key
    commit in one transaction, and no reader ever pairs a key with the other key's
    digests (kluis/vault/blind.py; the router sends it to the main database). No row:
    generation 0, the first key.
    """

    number = models.PositiveIntegerField(default=0)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"blind index generation {self.number}"


class ShredRecord(models.Model):
    """One key scope shredded: the shred journal's second record, in the main database.

    Written by `keys.shred` in the main database's transaction of the caller, beside
    the audit chain's `vault.shredded` entry of the same call (`audit_seq`), whose
    `scopes_sha256` covers exactly the rows carrying that number. No personal data: a
    random subject id, a retention class, a period, a time. A backup of the main
    database holds these rows, so a restore shreds again a key shredded after the
    keystore was backed up even when both shred journal files are lost (backup.py).
    Kept for good, like the keystore's shredded key rows; in any case at least as long
    as a keystore backup may be kept (the policy's security.backups).
    """

    subject = models.UUIDField(db_index=True)
    retention_class = models.CharField(max_length=80)
    period = models.CharField(max_length=8, default="", blank=True)
    shredded_at = models.DateTimeField()
    # The chain entry of the shred; none for rows a restore took over from a journal file.
    audit_seq = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"shredded {self.subject}/{self.retention_class}/{self.period or '-'}"
