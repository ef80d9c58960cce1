"""Canary values written through the models never reach the database in plain text.

One row of every sealed model gets a canary of its own in every sealed field; then the
raw bytes are searched: the SQLite files (main file, WAL, journal), and on PostgreSQL
every column of every table, bytea columns as their raw bytes (a text cast would print
them as hex, and a sealed field that stored plain bytes would pass unseen).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connections
from django.utils import timezone

from kluis.vault.fields import SealedModel, sealed_fields
from kluis.vault.tests.helpers import make_customer

TAG = "7f3a9c"
_numbers = itertools.count(1)


def canary(model: type[SealedModel], field: str) -> str:
    return f"Kanarie {model._meta.model_name} {field} {TAG}"


def sealed_models() -> list[type[SealedModel]]:
    """Every sealed model of the product; models that tests make for themselves (such as
    the rights tests' stand-in for a later app) are not the product's."""
    return [
        m
        for m in apps.get_models()
        if issubclass(m, SealedModel) and sealed_fields(m) and ".tests." not in m.__module__
    ]


def _fill(row: SealedModel) -> SealedModel:
    for field in sealed_fields(type(row)):
        setattr(row, field.name, canary(type(row), field.name))
    row.save(force_insert=True)
    return row


def _make_one_of_each() -> set[str]:
    """One row of every sealed model, every sealed field a canary; returns the labels."""
    from kluis.accounts.models import (
        Contact,
        Customer,
        EmailChange,
        Passkey,
        PasswordResetRequest,
        User,
    )
    from kluis.billing.models import (
        BankStatement,
        Invoice,
        InvoiceLine,
        InvoiceLineDomain,
        OssEvidence,
        Payment,
    )
    from kluis.mail.models import OutboxMessage
    from kluis.rights.models import IdCopy, RightsRequest
    from kluis.shop.models import (
        Acceptance,
        DomainName,
        KvkExtract,
        Order,
        VatCheck,
        WithdrawalRequest,
    )
    from kluis.web.models import Answer, Question

    n = next(_numbers)
    customer = _fill(Customer(number=f"C{n:07d}"))
    assert isinstance(customer, Customer)
    user = _fill(User(kind=User.Kind.CUSTOMER, customer=customer))
    assert isinstance(user, User)
    _fill(Contact(customer=customer))
    _fill(EmailChange(user=user, token_hash="0" * 64))
    _fill(PasswordResetRequest(language="nl"))
    _fill(WithdrawalRequest(order_number=f"T{n:09d}", language="nl"))
    credential = uuid.uuid4().bytes
    _fill(
        Passkey(
            user=user,
            credential_id=credential,
            credential_hash=hashlib.sha256(credential).hexdigest(),
            public_key=b"\x00",
        )
    )
    order = _fill(
        Order(
            number=f"T{n:09d}",
            customer=customer,
            idempotency_key=uuid.uuid4().hex,
            total_cents=100,
            agreement_version="1",
            processor_agreement_version="1",
        )
    )
    assert isinstance(order, Order)
    _fill(VatCheck(order=order, country="NL", result=VatCheck.Result.VALID))
    _fill(KvkExtract(order=order, mimetype="application/pdf", size=1, sha256="0" * 64))
    _fill(
        Acceptance(
            customer=customer,
            order=order,
            document="agreement",
            version="1",
            language="nl",
            text_sha256="0" * 64,
        )
    )
    request = _fill(RightsRequest(kind="access", channel="public", due_on=dt.date(2026, 1, 1)))
    assert isinstance(request, RightsRequest)
    _fill(IdCopy(request=request, mimetype="image/png", size=1))
    _fill(DomainName(customer=customer))
    today = timezone.localdate()
    invoice = _fill(
        Invoice(
            series="F",
            sequence=n,
            number=f"F-T-{n:06d}",
            customer=customer,
            issue_date=today,
            supply_date=today,
            due_date=today,
            country="NL",
            vat_scheme=Invoice.VatScheme.DUTCH,
            vat_country="NL",
            vat_rate_bp=2100,
            net_cents=100,
            vat_cents=21,
            total_cents=121,
            payment_reference=f"{n:016d}",
        )
    )
    assert isinstance(invoice, Invoice)
    line = InvoiceLine.objects.create(
        invoice=invoice, position=0, description="{domein}", unit_cents=100, net_cents=100
    )
    _fill(InvoiceLineDomain(line=line, customer=customer, fiscal_year=today.year))
    _fill(OssEvidence(invoice=invoice, customer=customer, country="BE"))
    statement = BankStatement.objects.create(
        version="02", message_id=f"M{n}", statement_id=f"S{n}", sha256="0" * 64
    )
    _fill(
        Payment(
            statement=statement,
            entry_reference=f"E{n}",
            subject=customer.pk,
            booking_date=today,
            amount_cents=100,
            match=Payment.Match.NONE,
        )
    )
    question = _fill(Question(reference=f"V{n:07d}"))
    assert isinstance(question, Question)
    _fill(Answer(question=question, number=1))
    _fill(
        OutboxMessage(
            to_subject=customer.pk,
            dedupe_key=f"canary:{n}",
            template="mail/test_message",
            language="nl",
            message_id=f"<canary{n}@example.nl>",
        )
    )
    _sites_rows(customer, order, today)
    return {m._meta.label for m in sealed_models() if m._default_manager.exists()}


def _sites_rows(customer: Any, order: Any, today: dt.date) -> None:
    from kluis.shop.models import OrderLine, Subscription
    from kluis.sites.models import (
        AllowEntry,
        HelpAttachment,
        HelpMessage,
        HelpRequest,
        Site,
        SiteAdminUrl,
        SiteHost,
    )

    line = OrderLine.objects.create(
        order=order, position=90, kind="product", description="x", price_cents=1, period="month"
    )
    subscription = Subscription.objects.create(
        customer=customer,
        line=line,
        kind="product",
        period="month",
        started_on=today,
        period_start=today,
        period_end=today,
    )
    site = Site.objects.create(customer=customer, subscription=subscription, kind="webshop")
    _fill(AllowEntry(site=site, customer=customer, version=4, prefix=32))
    _fill(SiteHost(site=site, customer=customer, position=0))
    _fill(SiteAdminUrl(site=site, customer=customer))
    request = _fill(
        HelpRequest(customer=customer, reference=f"H-{uuid.uuid4().hex[:8]}", about="site")
    )
    assert isinstance(request, HelpRequest)
    _fill(HelpMessage(help_request=request, number=1, author="staff"))
    _fill(
        HelpAttachment(
            help_request=request, customer=customer, number=1, mimetype="text/plain", size=1
        )
    )

    from kluis.usage.models import Mailbox

    _fill(Mailbox(customer=customer, site=site))


def _sqlite_bytes(alias: str) -> bytes:
    name = Path(connections[alias].settings_dict["NAME"])
    return b"".join(
        p.read_bytes() for p in (name, Path(f"{name}-wal"), Path(f"{name}-journal")) if p.exists()
    )


def _postgres_bytes(alias: str) -> bytes:
    """Every value of every table: bytea as its raw bytes, everything else as text."""
    chunks: list[bytes] = []
    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


def _haystack(alias: str) -> bytes:
    connection = connections[alias]
    return _sqlite_bytes(alias) if connection.vendor == "sqlite" else _postgres_bytes(alias)


def _needles() -> list[str]:
    return [canary(m, f.name) for m in sealed_models() for f in sealed_fields(m)]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_no_canary_of_any_sealed_model_is_stored_in_plain_text():
    covered = _make_one_of_each()
    # A new sealed model must be added above, or this fails: every one is covered.
    assert covered == {m._meta.label for m in sealed_models()}
    needles = _needles()
    for alias in ("default", "keystore"):
        haystack = _haystack(alias)
        lowered = haystack.lower()
        for needle in needles:
            for encoding in ("utf-8", "utf-16-le"):
                assert needle.encode(encoding) not in haystack, (alias, needle)
            assert needle.lower().encode() not in lowered, (alias, needle)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_search_finds_a_canary_that_is_stored_in_plain_text():
    # The check itself works on this database: a value written as plain bytes into a
    # sealed column (bytea on PostgreSQL) is found.
    customer = make_customer(name="Jan")
    plain = canary(type(customer), "name").encode()
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_customer SET name = %s WHERE id = %s",
            [plain, customer.pk.hex if connections["default"].vendor == "sqlite" else customer.pk],
        )
    assert plain in _haystack("default")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_classic_customer_canaries_stay_out_too():
    from kluis.accounts.models import Contact, User

    values = {
        "name": "Kanarie-Naam-7f3a9c",
        "email": "kanarie.7f3a9c@example.nl",
        "phone": "+31 6 7373 9191",
        "address_street": "Kanariestraat 7f3a9c",
        "address_postcode": "9191 KC",
        "address_city": "Kanariedorp",
        "company_name": "Kanarie Holding 7f3a9c",
        "kvk_number": "73739191",
        "vat_number": "NL737391910B01",
    }
    customer = make_customer(**values)
    Contact.objects.create(
        customer=customer, name="Kanarie Contact 7f3a9c", email="contact.7f3a9c@example.nl"
    )
    User.objects.create_customer_user(
        customer=customer, email=values["email"], password="een lang wachtwoord 7f3a9c"
    )
    for alias in ("default", "keystore"):
        haystack = _haystack(alias).lower()
        for needle in [*values.values(), "een lang wachtwoord 7f3a9c"]:
            assert needle.lower().encode() not in haystack, (alias, needle)
