from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RegistryContact(models.Model):
    """A customer's contact object at one registry: the handle kluis created there.

    The data behind the handle lives at the registry; here is only which customer it
    stands for, so a registry that allows it reuses one handle for every domain.
    """

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="registry_contacts"
    )
    registry = models.CharField(max_length=20)
    handle = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    # Deleted at the registry once no domain of the customer there needed it.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["registry", "handle"], name="domains_contact_handle"),
        ]

    def __str__(self) -> str:
        return f"{self.registry}:{self.handle}"


class DomainRegistrationQuerySet(models.QuerySet["DomainRegistration"]):
    def pending(self) -> DomainRegistrationQuerySet:
        return self.filter(status=DomainRegistration.Status.PENDING)

    def registrations(self) -> DomainRegistrationQuerySet:
        return self.filter(kind=DomainRegistration.Kind.REGISTER)

    def transfers(self) -> DomainRegistrationQuerySet:
        return self.filter(kind=DomainRegistration.Kind.TRANSFER)


class DomainRegistration(models.Model):
    """One domain of an order on its way to, and at, its registry.

    The domain name itself is read from the order line (kluis/domains/shop_link.py),
    so it is kept in one place. A line the customer ordered as a transfer to us (with
    the auth code of the current registrar) is of kind TRANSFER: it is not created at
    the registry but asked for with <transfer op="request"> (kluis/domains/transfers.py).
    """

    class Kind(models.TextChoices):
        REGISTER = "register", _("registratie")
        TRANSFER = "transfer", _("verhuizing naar ons")

    class Status(models.TextChoices):
        PENDING = "pending", _("wacht op registratie")
        # A transfer in that the registry accepted; the losing registrar may still say no.
        TRANSFER_PENDING = "transfer_pending", _("verhuizing loopt")
        REGISTERED = "registered", _("geregistreerd")
        FAILED = "failed", _("mislukt")
        REFUSED = "refused", _("geweigerd")
        # Moved to another registrar (a registry's poll message said so).
        TRANSFERRED = "transferred", _("verhuisd naar een andere provider")
        # Not renewed (unpaid or ended) and deleted at the registry at its expiry.
        DELETED = "deleted", _("opgeheven")

    class EndReason(models.TextChoices):
        UNPAID = "unpaid", _("niet betaald")
        REGISTRY = "registry", _("door de registry opgeheven")

    order = models.ForeignKey(
        "shop.Order", on_delete=models.PROTECT, related_name="domain_registrations"
    )
    line = models.OneToOneField(
        "shop.OrderLine", on_delete=models.PROTECT, related_name="registration"
    )
    registry = models.CharField(max_length=20)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REGISTER)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    contact = models.ForeignKey(
        RegistryContact, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    roid = models.CharField(max_length=89, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    # The nameservers the registry holds for the domain, as we last set them.
    nameservers = models.JSONField(default=list, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # A worker holds a registration while it talks to the registry (conditional UPDATE).
    leased_until = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=16, blank=True)
    # The registry's own words on the last failure, for the domains desk.
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A transfer in: when the registry accepted the request, and when we last asked it.
    transfer_requested_at = models.DateTimeField(null=True, blank=True)
    transfer_checked_at = models.DateTimeField(null=True, blank=True)
    # Deleted at the registry at the end of its term (not renewed), or by the registry
    # itself (its poll message said so; kluis/domains/notices.py).
    deleted_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=10, choices=EndReason.choices, blank=True)

    objects = DomainRegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"registration {self.pk} ({self.status})"

    @property
    def can_retry(self) -> bool:
        # A refusal for want of consent stays: staff cannot give the customer's consent.
        # A failed transfer needs a new auth code from the customer: it is ordered anew.
        return (
            self.status == self.Status.FAILED
            and bool(self.registry)
            and self.kind == self.Kind.REGISTER
        )

    @property
    def is_transfer(self) -> bool:
        return self.kind == self.Kind.TRANSFER


class TransferCode(models.Model):
    """The auth code a customer gave to move a domain to us, sealed until it is used up.

    The code is a key to the customer's domain, not data about them: it is sealed
    (AES-GCM) under a system secret of the keystore (kluis/domains/transfers.py), never
    logged or shown, and the row is deleted once the transfer is done or has failed.
    """

    line = models.OneToOneField(
        "shop.OrderLine", on_delete=models.CASCADE, related_name="transfer_code"
    )
    sealed = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"transfer code of line {self.line_id}"


class PollMessage(models.Model):
    """A message from a registry's poll queue, kept after it was acknowledged there.

    Registries tell a registrar this way of transfers, deletions and other changes made
    by others. Only the registry's short text is kept (no personal data is expected in
    it; it is cut at 500 characters).
    """

    registry = models.CharField(max_length=20)
    message_id = models.CharField(max_length=64)
    queued_at = models.DateTimeField(null=True, blank=True)
    text = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # What kluis did on it ("" = shown only): kluis/domains/notices.py.
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["registry", "message_id"], name="domains_poll_once")
        ]

    def __str__(self) -> str:
        return f"{self.registry} message {self.message_id}"


class DomainRenewal(models.Model):
    """One paid year of a registered domain, on its way to the registry as <renew> (or,
    at a registry that renews by itself, waiting for it to do so).

    Queued when the renewal invoice of the domain's subscription is paid; unique per
    registration and period, so a payment heard twice renews once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("wacht op verlenging")
        RENEWED = "renewed", _("verlengd")
        FAILED = "failed", _("verlenging mislukt")
        # The registry refused our <renew> and its <info> showed it had renewed the
        # domain by itself, or a registry that renews by itself showed its new date after
        # the expiry: its date is recorded.
        BY_REGISTRY = "by_registry", _("door de registry verlengd")
        # Paid, at a registry that renews by itself (`Registry.renews_itself`): no
        # <renew> is sent; once its expiry has passed, <info> reads the new date.
        AWAITING = "awaiting", _("betaald, de registry verlengt zelf")

    registration = models.ForeignKey(
        DomainRegistration, on_delete=models.PROTECT, related_name="renewals"
    )
    period_start = models.DateField()
    invoice_number = models.CharField(max_length=24, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # Our expiry date when the renewal was queued: a registry date past it means a run
    # that crashed after the registry's yes already renewed.
    expires_before = models.DateField(null=True, blank=True)
    expires_after = models.DateField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # A renewal left to a registry that renews by itself: the day its <info> was last
    # read after the expiry (once a day, not on every run of the job).
    checked_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    renewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "period_start"], name="domains_renewal_once"
            )
        ]

    def __str__(self) -> str:
        return f"renewal {self.pk} ({self.status})"
