from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django.apps import apps
from django.db import connections, models

from kluis.mail.delivery import build_email
from kluis.mail.models import OutboxMessage
from kluis.vault.fields import SealedField, SealedModel


def queued(template: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(template=template).order_by("created_at"))


def rendered(message: OutboxMessage) -> Any:
    """The mail as the worker would send it (rendered from its references now)."""
    return build_email(message)


@pytest.fixture(scope="session")
def later_model(django_db_setup: None, django_db_blocker: Any) -> Iterator[type[SealedModel]]:
    """A model that a later app might add, made here, after kluis/rights was written.

    It seals one value under the category's usual class and one fiscal copy kept per
    fiscal year (what billing will do for the name on an invoice). It is registered in
    the app registry and its table made for this session only, so nothing in
    kluis/rights knows about it.
    """

    class LaterInvoice(SealedModel):
        customer_id = models.UUIDField()
        year = models.PositiveIntegerField()
        kvk_number = SealedField("KvK-nummer op de offerte", category="kluis.kvk_number")
        billed_name = SealedField("naam op de factuur", category="user.name", retention="fiscal")

        vault_subject_field: ClassVar[str] = "customer_id"

        class Meta:
            app_label = "rights"
            verbose_name = "factuur (testmodel)"

        def vault_period(self, retention_class: str) -> str:
            return str(self.year)

    with django_db_blocker.unblock():
        for alias in ("default",):
            with connections[alias].schema_editor() as editor:
                editor.create_model(LaterInvoice)
    yield LaterInvoice
    with django_db_blocker.unblock(), connections["default"].schema_editor() as editor:
        editor.delete_model(LaterInvoice)
    del apps.all_models["rights"]["laterinvoice"]
    apps.clear_cache()


def this_year() -> int:
    return dt.date.today().year


def new_id() -> uuid.UUID:
    return uuid.uuid4()
