"""Usage and mail-traffic statistics: counts and sizes per site and mailbox per day.

Nothing here holds a visitor's address, user agent, query string, a message's
subject or id, or a correspondent's address. While a day is open, `SiteDay.sketch`
and `PageDay.marks` hold salted hashes of truncated addresses; both are cleared, and
the day's salt deleted, when the day closes (README "Usage statistics").
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import Customer
from kluis.shop.models import Subscription
from kluis.sites.models import Site
from kluis.vault.fields import BlindIndexField, SealedField, SealedModel


class Mailbox(SealedModel):
    """A customer's hosted mailbox; its address is the customer's own.

    It belongs to the delivered package (subscription) that holds it, within that
    package's number of mailboxes, and ends with it (kluis/usage/mailboxes.py). An
    ended mailbox keeps its counts until they expire; the logs count only running ones.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="mailboxes")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="mailboxes"
    )
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="mailboxes"
    )
    address = SealedField(_("e-mailadres"), category="user.contact.email")
    address_index = BlindIndexField(source="address", kind="email")
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # One running mailbox per address, across customers.
            models.UniqueConstraint(
                fields=["address_index"],
                condition=models.Q(ended_at__isnull=True),
                name="usage_mailbox_running_once",
            )
        ]

    vault_subject_field: ClassVar[str] = "customer_id"

    def __str__(self) -> str:
        return f"mailbox {self.pk} of {self.customer_id}"


class LogFile(models.Model):
    """One log file followed by its identity (its first line's hash) and offset.

    The offset counts bytes of the uncompressed stream, so the same file read again as
    `access.log.1` or `access.log.2.gz` continues where it stopped.
    """

    node = models.CharField(max_length=100)
    kind = models.CharField(max_length=8)  # "nginx" or "postfix"
    head = models.CharField(max_length=64)  # SHA-256 of the first line
    inode = models.BigIntegerField(default=0)
    path = models.CharField(max_length=500)  # where it was last seen
    offset = models.BigIntegerField(default=0)
    lines = models.BigIntegerField(default=0)
    bad = models.BigIntegerField(default=0)  # lines counted and skipped
    unmatched = models.BigIntegerField(default=0)  # good lines of no known site or mailbox
    finished = models.BooleanField(default=False)  # compressed and read to its end
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "kind", "head"], name="usage_logfile_identity")
        ]

    def __str__(self) -> str:
        return f"{self.kind} log {self.path} of {self.node}"


class IngestBatch(models.Model):
    """A batch of lines sent by a node; a replay of the same id counts nothing twice."""

    node = models.CharField(max_length=100)
    batch_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=8)
    # SHA-256 of the batch's kind and lines: the same id with other lines is refused.
    digest = models.CharField(max_length=64, blank=True)
    accepted = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "batch_id"], name="usage_batch_once")
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} of {self.node}"


class DaySecret(models.Model):
    """The salt of one open day's visitor hashes, wrapped by the master key.

    It lives in the keystore database (kluis.vault.routers), never in the main one:
    a backup of the main database holds the day's hashes but not what made them. It
    is deleted, and the keystore flushed, when the day closes (store.days_close).
    """

    day = models.DateField(unique=True)
    wrapped = models.BinaryField()
    master_kid = models.CharField(max_length=40)

    def __str__(self) -> str:
        return f"salt of {self.day}"


class SiteDay(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="usage_days")
    day = models.DateField()
    requests = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    status_1xx = models.BigIntegerField(default=0)
    status_2xx = models.BigIntegerField(default=0)
    status_3xx = models.BigIntegerField(default=0)
    status_4xx = models.BigIntegerField(default=0)
    status_5xx = models.BigIntegerField(default=0)
    visitors = models.BigIntegerField(default=0)  # the estimate, final once closed
    # HyperLogLog registers while the day is open; None once it is closed.
    sketch = models.BinaryField(null=True, blank=True)
    closed = models.BooleanField(default=False)

    class Meta:
        ordering = ["site", "day"]
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="usage_siteday_once")]

    def __str__(self) -> str:
        return f"site {self.site_id} on {self.day}"


class PageDay(models.Model):
    """A path (no query string) of one site on one day, kept once 5 visitors asked for it."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="usage_pages")
    day = models.DateField()
    # The path under the day's salt: rows are found by it while the path itself is not
    # yet kept.
    key = models.CharField(max_length=32)
    # Empty until 5 distinct visitors asked for it (then `qualified`).
    path = models.CharField(max_length=300, blank=True)
    requests = models.BigIntegerField(default=0)
    # Up to 5 distinct salted visitor hashes (8 bytes each) while the day is open.
    marks = models.BinaryField(null=True, blank=True)
    qualified = models.BooleanField(default=False)  # 5 distinct visitors seen

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "day", "key"], name="usage_pageday_once")
        ]

    def __str__(self) -> str:
        return f"page of site {self.site_id} on {self.day}"


class MailDay(models.Model):
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    received = models.BigIntegerField(default=0)
    received_bytes = models.BigIntegerField(default=0)
    sent = models.BigIntegerField(default=0)
    sent_bytes = models.BigIntegerField(default=0)
    recipients = models.BigIntegerField(default=0)
    deferred = models.BigIntegerField(default=0)
    bounced = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["mailbox", "day"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "day"], name="usage_mailday_once")
        ]

    def __str__(self) -> str:
        return f"mailbox {self.mailbox_id} on {self.day}"


class MailQueue(models.Model):
    """One node's Postfix queue state as a whole: its row is locked (and its version
    read) before the node's pending messages are read, and the version raised when
    they are written, so two batches or runs of one node take turns instead of each
    writing back what it read before the other wrote (store.queue_lock)."""

    node = models.CharField(max_length=100, unique=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"mail queue of {self.node}"


class PendingMessage(models.Model):
    """A queue id seen but not yet removed: what later lines of it need, nothing more."""

    node = models.CharField(max_length=100)
    queue_id = models.CharField(max_length=20)
    sender = models.ForeignKey(Mailbox, null=True, on_delete=models.CASCADE, related_name="+")
    size = models.BigIntegerField(default=0)
    counted = models.BooleanField(default=False)
    seen = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "queue_id"], name="usage_pending_once")
        ]

    def __str__(self) -> str:
        return f"queue id {self.queue_id} of {self.node}"
