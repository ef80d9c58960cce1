"""Customers, their contact people, and the users who log in (customers and staff).

Every personal field is sealed. Lookups by email or name go through blind indexes.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.policy.enforce import Actor
from kluis.policy.schema import ROLE_KEYS
from kluis.vault.fields import BlindIndexField, SealedField, SealedModel


class Customer(SealedModel):
    class Kind(models.TextChoices):
        PERSON = "person", _("Particulier")
        ORGANISATION = "organisation", _("Organisatie")

    number = models.CharField(max_length=12, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PERSON)
    name = SealedField(category="user.name")
    name_index = BlindIndexField(source="name", kind="text")
    company_name = SealedField(category="user.contact.organization")
    address_street = SealedField(category="user.contact.address")
    address_postcode = SealedField(category="user.contact.address")
    address_city = SealedField(category="user.contact.address")
    country = models.CharField(max_length=2, default="NL")
    email = SealedField(category="user.contact.email")
    email_index = BlindIndexField(source="email", kind="email")
    phone = SealedField(category="user.contact.phone_number")
    kvk_number = SealedField(category="kluis.kvk_number")
    vat_number = SealedField(category="kluis.vat_number")
    vat_index = BlindIndexField(source="vat_number", kind="vat")
    language = models.CharField(max_length=2, default="nl")
    created_at = models.DateTimeField(default=timezone.now)
    # The end of the last contract: the trigger of the customer_record retention class.
    contract_ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class Contact(SealedModel):
    """A contact person of an organisation: a data subject of their own."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = SealedField(category="user.name")
    email = SealedField(category="user.contact.email")
    email_index = BlindIndexField(source="email", kind="email")
    phone = SealedField(category="user.contact.phone_number")
    created_at = models.DateTimeField(default=timezone.now)

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

    email = SealedField(category="user.contact.email")
    email_index = BlindIndexField(source="email", kind="email", unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    roles = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "email_index"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    class Meta:
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

    @property
    def is_staff_member(self) -> bool:
        return self.kind == self.Kind.STAFF

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles if r in ROLE_KEYS)

    def actor(self) -> Actor:
        if self.is_staff_member:
            return Actor.staff(self.pk, self.role_set)
        assert self.customer_id is not None
        return Actor.subject(self.customer_id)
