"""Customers, their contact people, and the users who log in (customers and staff).

Every personal field is sealed. Lookups by email or name go through blind indexes.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device

from kluis.policy.enforce import Actor
from kluis.policy.schema import ROLE_KEYS
from kluis.vault.fields import BlindIndexField, SealedField, SealedModel


class LegalForm(models.TextChoices):
    EENMANSZAAK = "eenmanszaak", _("eenmanszaak")
    VOF = "vof", _("vennootschap onder firma (vof)")
    CV = "cv", _("commanditaire vennootschap (cv)")
    MAATSCHAP = "maatschap", _("maatschap")
    BV = "bv", _("besloten vennootschap (bv)")
    NV = "nv", _("naamloze vennootschap (nv)")
    STICHTING = "stichting", _("stichting")
    VERENIGING = "vereniging", _("vereniging")
    COOPERATIE = "cooperatie", _("coöperatie")
    OWM = "owm", _("onderlinge waarborgmaatschappij")
    KERK = "kerk", _("kerkgenootschap")
    BUITENLANDS = "buitenlands", _("buitenlandse rechtsvorm")
    ANDERS = "anders", _("een andere rechtsvorm")


class Customer(SealedModel):
    class Kind(models.TextChoices):
        PERSON = "person", _("Particulier")
        ORGANISATION = "organisation", _("Organisatie")

    number = models.CharField(max_length=12, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PERSON)
    name = SealedField(_("naam"), category="user.name")
    name_index = BlindIndexField(source="name", kind="text")
    company_name = SealedField(_("bedrijfsnaam"), category="user.contact.organization")
    address_street = SealedField(_("straat en huisnummer"), category="user.contact.address")
    address_postcode = SealedField(_("postcode"), category="user.contact.address")
    address_city = SealedField(_("plaats"), category="user.contact.address")
    country = models.CharField(max_length=2, default="NL")
    email = SealedField(_("e-mailadres"), category="user.contact.email")
    email_index = BlindIndexField(source="email", kind="email")
    phone = SealedField(_("telefoonnummer"), category="user.contact.phone_number")
    kvk_number = SealedField(_("KvK-nummer"), category="kluis.kvk_number")
    # The organisation's legal form, as the customer chose it in the account ("" = not
    # given). The registries that want one (SIDN) get it instead of a guess from the name.
    # The database default lets code that predates the column still insert customers.
    legal_form = models.CharField(
        _("rechtsvorm"),
        max_length=16,
        choices=LegalForm.choices,
        blank=True,
        default="",
        db_default="",
    )
    vat_number = SealedField(_("btw-nummer"), category="kluis.vat_number")
    vat_index = BlindIndexField(source="vat_number", kind="vat")
    language = models.CharField(max_length=2, default="nl")
    created_at = models.DateTimeField(default=timezone.now)
    # The end of the last contract: the trigger of the customer_record retention class.
    contract_ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        verbose_name = _("klantgegevens")
        verbose_name_plural = _("klantgegevens")

    def __str__(self) -> str:
        return self.number


class Contact(SealedModel):
    """A contact person of an organisation: a data subject of their own."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = SealedField(_("naam"), category="user.name")
    email = SealedField(_("e-mailadres"), category="user.contact.email")
    email_index = BlindIndexField(source="email", kind="email")
    phone = SealedField(_("telefoonnummer"), category="user.contact.phone_number")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contactpersoon")
        verbose_name_plural = _("contactpersonen")

    def __str__(self) -> str:
        return f"contact of {self.customer_id}"


class UserManager(BaseUserManager["User"]):
    def get_by_email(self, email: str) -> User | None:
        index = User._meta.get_field("email_index")
        assert isinstance(index, BlindIndexField)
        return self.filter(email_index=index.lookup_value(email)).first()

    def create_staff(self, *, email: str, password: str, roles: list[str], **extra: Any) -> User:
        user = self.model(email=email, kind=User.Kind.STAFF, roles=roles, **extra)
        user.set_password(password)
        user.save()
        return user

    def create_customer_user(self, *, customer: Customer, email: str, password: str | None) -> User:
        user = self.model(email=email, kind=User.Kind.CUSTOMER, customer=customer)
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        return user


class User(AbstractBaseUser, SealedModel):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Klant")
        STAFF = "staff", _("Medewerker")

    email = SealedField(_("inlog-e-mailadres"), category="user.contact.email")
    email_index = BlindIndexField(source="email", kind="email", unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    roles = models.JSONField(default=list, blank=True)
    # A staff member's working name, shown to colleagues beside their roles ("Sanne de
    # Boer (financiële administratie)"). Customers' names live sealed on Customer.
    display_name = models.CharField(_("naam"), max_length=80, blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "email_index"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="staff", customer__isnull=True)
                | models.Q(kind="customer", customer__isnull=False),
                name="customer_users_have_a_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"

    def vault_subject(self) -> uuid.UUID:
        # A customer's login is part of that customer's data; a staff member is a
        # data subject of their own.
        return self.customer_id if self.customer_id else self.pk

    @classmethod
    def vault_subject_q(cls, subject: uuid.UUID) -> models.Q:
        """The rows whose vault subject is `subject`, as a query (see vault_subject)."""
        return models.Q(customer_id=subject) | models.Q(customer__isnull=True, pk=subject)

    @property
    def language(self) -> str:
        return self.customer.language if self.customer_id and self.customer else "nl"

    @property
    def is_staff_member(self) -> bool:
        return self.kind == self.Kind.STAFF

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles if r in ROLE_KEYS)

    @property
    def staff_label(self) -> str:
        """ "Name (role, role)": how colleagues see a staff member, never an id or address."""
        from kluis.policy.loader import current_policy

        roles = current_policy().roles
        language = get_language() or "nl"
        labels = ", ".join(roles[r].label.get(language) for r in sorted(self.role_set))
        name = self.display_name or str(_("medewerker zonder naam"))
        return f"{name} ({labels})" if labels else name

    def actor(self) -> Actor:
        if self.is_staff_member:
            return Actor.staff(self.pk, self.role_set)
        assert self.customer_id is not None
        return Actor.subject(self.customer_id)


class UserOwnedModel(SealedModel):
    """A sealed row that belongs to one login: its subject is that login's subject."""

    user: models.ForeignKey[User, User]

    class Meta:
        abstract = True

    def vault_subject(self) -> uuid.UUID:
        return self.user.vault_subject()

    @classmethod
    def vault_subject_q(cls, subject: uuid.UUID) -> models.Q:
        return models.Q(user__customer_id=subject) | models.Q(
            user__customer__isnull=True, user_id=subject
        )


class EmailChange(UserOwnedModel):
    """A new login address waiting for its owner to confirm it from that address.

    Only a hash of the link's token is kept, so the database alone cannot confirm a
    change; the row is deleted when the change is confirmed.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_changes")
    new_email = SealedField(
        _("nieuw e-mailadres, nog niet bevestigd"), category="user.contact.email"
    )
    new_email_index = BlindIndexField(source="new_email", kind="email")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("wijziging van e-mailadres")
        verbose_name_plural = _("wijzigingen van e-mailadres")

    def __str__(self) -> str:
        return f"email change of {self.user_id}"


class PasswordResetRequest(SealedModel):
    """A password reset asked for on the public page, waiting for the worker.

    The page does the same work for every address, with or without an account: it
    seals what was typed under a subject of this request alone and writes one audit
    entry. The worker looks the address up, mails the link to the account's stored
    address (or tells the typed one that it has no account), then deletes the row and
    shreds its key.
    """

    email = SealedField(
        _("getypt e-mailadres"), category="user.contact.email", retention="contact_request"
    )
    language = models.CharField(max_length=2)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the worker that took it; another may take it over after a lease.
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"password reset request {self.pk}"


class Throttle(models.Model):
    """Failed attempts of one kind from one account or one client address.

    The key is an HMAC of the scope and the account's blind index or the client's
    address, so this table names nobody.
    """

    key = models.CharField(max_length=80, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(default=timezone.now)
    blocked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key[:12]


class RoleGrant(models.Model):
    """A privileged role asked for a staff member, waiting for a second admin's approval.

    Which roles are privileged is declared in the policy (separation_of_duties). The
    admin who asked cannot approve, nor can the staff member who would get the role.
    """

    staff = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=20)
    requested_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="role_grants_requested"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="role_grants_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    approved = models.BooleanField(null=True)

    class Meta:
        ordering = ["requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "role"],
                condition=models.Q(decided_at__isnull=True),
                name="accounts_one_open_grant_per_role",
            )
        ]

    def __str__(self) -> str:
        return f"grant {self.role} to {self.staff_id}"

    @property
    def role_label(self) -> str:
        from kluis.policy.loader import current_policy

        role = current_policy().roles.get(self.role)
        return role.label.get(get_language() or "nl") if role else self.role


class Passkey(UserOwnedModel):
    """A WebAuthn credential (a passkey) its owner registered as a second factor.

    Only the public half is kept: the private key never leaves the owner's device.
    The name the owner gave it is sealed; the credential id and public key are not
    secret (a signature from the device is needed to use them) and stay plain, as
    do the counters and flags the ceremony checks. Removed with the account.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    name = SealedField(_("naam van de passkey"), category="kluis.passkey")
    credential_id = models.BinaryField(max_length=1023)
    # SHA-256 of the credential id: unique, so one authenticator's key is one row.
    credential_hash = models.CharField(max_length=64, unique=True)
    public_key = models.BinaryField(max_length=1023)
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    backup_eligible = models.BooleanField(default=False)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Set when the device's signature counter went backwards: a sign of a copied key.
    # Such a passkey is refused until its owner removes it.
    clone_suspected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")

    def __str__(self) -> str:
        return f"passkey {self.pk}"


class PasskeyDevice(Device):  # type: ignore[misc]  # django-otp has no type hints
    """The django-otp device a session is verified with after a passkey login.

    django-otp keys its devices by integer ids, sealed rows have UUIDs: this one row
    per user stands for all of that user's passkeys; the audit entry of each login
    names the passkey that was used. It holds nothing personal and goes with the user.
    """

    user: models.OneToOneField[User, User] = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="passkey_device"
    )

    class Meta:
        verbose_name = _("passkeys (tweede stap)")
        verbose_name_plural = _("passkeys (tweede stap)")
