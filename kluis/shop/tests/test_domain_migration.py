"""The migrations seal the domain names that earlier versions stored in plain text.

The database is taken back to the state before (shop 0006, billing 0010), rows are
written as that version wrote them (an order line, its subscription, an invoice line
naming the domain, a cart in the session store), and migrated forward: every value
opens for its owner, the texts read as before, and no plain copy is left anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from kluis.billing.domains import line_texts as invoice_line_texts
from kluis.billing.models import InvoiceLine
from kluis.policy.enforce import Actor
from kluis.shop.cart import SESSION_KEY, open_domain
from kluis.shop.domains import line_texts, subscription_names
from kluis.shop.models import OrderLine, Subscription
from kluis.vault.tests.test_canary import _haystack

BEFORE = [("shop", "0008_domain_names_sealed"), ("billing", "0012_invoice_line_domains")]
DOMAIN = "oudedomein7f3a9c.nl"


def _write_as_before(apps) -> tuple[uuid.UUID, str]:
    customer = apps.get_model("accounts", "Customer").objects.create(
        id=uuid.uuid4(), number="C0000001"
    )
    extension = apps.get_model("shop", "DomainExtension").objects.create(
        tld="nl", registry="SIDN", eu=True, price_cents=995, period="year"
    )
    order = apps.get_model("shop", "Order").objects.create(
        id=uuid.uuid4(),
        number="B2026-000001",
        customer=customer,
        idempotency_key="t",
        total_cents=995,
        agreement_version="1",
        processor_agreement_version="1",
    )
    line = apps.get_model("shop", "OrderLine").objects.create(
        order=order,
        position=0,
        kind="domain",
        extension=extension,
        domain=DOMAIN,
        description=DOMAIN,
        price_cents=995,
        period="year",
    )
    day = dt.date(2026, 3, 1)
    apps.get_model("shop", "Subscription").objects.create(
        customer=customer,
        line=line,
        kind="domain",
        extension=extension,
        domain=DOMAIN,
        period="year",
        started_on=day,
        period_start=day,
        period_end=dt.date(2027, 2, 28),
    )
    invoice = apps.get_model("billing", "Invoice").objects.create(
        id=uuid.uuid4(),
        series="F",
        sequence=1,
        number="F2026-000001",
        customer=customer,
        order=order,
        issue_date=day,
        supply_date=day,
        due_date=day,
        country="NL",
        vat_scheme="dutch",
        vat_country="NL",
        vat_rate_bp=2100,
        net_cents=995,
        vat_cents=209,
        total_cents=1204,
        payment_reference="0000000000000001",
    )
    apps.get_model("billing", "InvoiceLine").objects.create(
        invoice=invoice,
        position=0,
        description=f"{DOMAIN}, eerste periode (1 jaar) vanaf de oplevering",
        unit_cents=995,
        net_cents=995,
    )
    session = SessionStore()
    session[SESSION_KEY] = {"token": "cart-token", "products": [], "domains": [DOMAIN]}
    session.create()
    assert session.session_key is not None
    return customer.pk, session.session_key


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_migrations_seal_plain_domains_and_drop_the_plain_columns():
    executor = MigrationExecutor(connections["default"])
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    customer_id, session_key = _write_as_before(executor.loader.project_state(BEFORE).apps)
    assert DOMAIN.encode() in _haystack("default")  # the search finds it before

    executor = MigrationExecutor(connections["default"])
    executor.migrate(executor.loader.graph.leaf_nodes())

    owner = Actor.subject(customer_id)
    [(line, text)] = line_texts(
        list(OrderLine.objects.all()), purpose="contract_administration", actor=owner
    )
    assert (text, line.description) == (DOMAIN, "{domein}")
    [subscription] = Subscription.objects.all()
    assert subscription.domain_name_id == line.domain_name_id
    assert (
        subscription_names([subscription], "nl", purpose="contract_administration", actor=owner)[0][
            1
        ]
        == DOMAIN
    )
    [(invoice_line, shown)] = invoice_line_texts(
        list(InvoiceLine.objects.all()), purpose="invoicing", actor=owner
    )
    assert shown == f"{DOMAIN}, eerste periode (1 jaar) vanaf de oplevering"
    assert invoice_line.description.startswith("{domein}, ")
    cart = SessionStore(session_key=session_key).load()[SESSION_KEY]
    assert [open_domain("cart-token", d) for d in cart["domains"]] == [DOMAIN]
    assert DOMAIN not in json.dumps(cart)
    for alias in ("default", "keystore"):
        # The plain columns' old pages may linger in the SQLite file until reused;
        # the live rows are what a copy of the database reads.
        with connections[alias].cursor() as cursor:
            tables = connections[alias].introspection.table_names(cursor)
            for table in tables:
                cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
                for row in cursor.fetchall():
                    assert DOMAIN not in repr(row), (alias, table)
