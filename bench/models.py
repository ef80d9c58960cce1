# ruff: noqa: DJ001, DJ008  (floors for benchmarks: shaped like the sealed model, no display)
import uuid

from django.db import models
from django.utils import timezone


class PlainCustomer(models.Model):
    """The floor of the sealed read: the columns of accounts.Customer, unsealed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    number = models.CharField(max_length=12, unique=True)
    kind = models.CharField(max_length=12, default="person")
    name = models.TextField(null=True)
    name_index = models.CharField(max_length=64, null=True, db_index=True)
    company_name = models.TextField(null=True)
    address_street = models.TextField(null=True)
    address_postcode = models.TextField(null=True)
    address_city = models.TextField(null=True)
    country = models.CharField(max_length=2, default="NL")
    email = models.TextField(null=True)
    email_index = models.CharField(max_length=64, null=True, db_index=True)
    phone = models.TextField(null=True)
    kvk_number = models.TextField(null=True)
    legal_form = models.CharField(max_length=16, blank=True, default="")
    vat_number = models.TextField(null=True)
    vat_index = models.CharField(max_length=64, null=True, db_index=True)
    language = models.CharField(max_length=2, default="nl")
    created_at = models.DateTimeField(default=timezone.now)
    contract_ended_at = models.DateTimeField(null=True)

    class Meta:
        app_label = "bench"
        ordering = ["number"]  # as Customer's


class PlainRow(models.Model):
    """The floor of an audit append: one row of the same size, no chain."""

    seq = models.PositiveBigIntegerField()
    payload = models.TextField()
    hash = models.CharField(max_length=64)

    class Meta:
        app_label = "bench"
