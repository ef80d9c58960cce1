"""Benchmarks of kluis/rights: the access export and the retention sweep.

Wired into `make bench` by two lines in bench/__main__.py. "A customer with long
history" is the customer record and login, 5,000 audit entries about them, 500 staff
reveals, 120 disclosures, and two years of monthly invoices, each paid from their
account (24 invoices with sealed billing fields, 24 sealed payments; the VAT table
starts in 2024).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import tracemalloc
import uuid
from typing import Any

from bench.__main__ import Figure, best_of


def _billing_history(customer: Any, months: int) -> None:
    from kluis.billing import services
    from kluis.billing.models import BankStatement, Payment
    from kluis.billing.rates import vat_rates_load

    vat_rates_load()
    statement = BankStatement.objects.create(
        version="02", message_id="BENCH", statement_id="BENCH", sha256="0" * 64
    )
    today = dt.date.today()
    for month in range(months):
        day = today - dt.timedelta(days=30 * (months - month))
        invoice = services.invoice_issue_for_lines(
            customer=customer,
            lines=[services.LineInput("Webwinkel Start, 1 maand", 1995)],
            evidence=None,
            issued_by=None,
            issue_date=day,
        )
        payment = Payment(
            statement=statement,
            entry_reference=f"BENCH-{customer.number}-{month}",
            booking_date=day + dt.timedelta(days=5),
            amount_cents=invoice.total_cents,
            match=Payment.Match.REFERENCE,
            invoice=invoice,
            iban="NL02ABNA0123456789",
            holder="A. de Vries",
            reference=invoice.payment_reference,
        )
        payment.subject = customer.pk
        payment.save(force_insert=True)


def _history_customer(audit: int, reveals: int, disclosures: int) -> Any:
    from django.db import transaction
    from django.utils import timezone

    from kluis.accounts.models import Customer, User
    from kluis.audit.chain import Event, audit_append_many
    from kluis.audit.models import Disclosure, RevealRecord

    with transaction.atomic():
        customer = Customer(
            number=f"H{uuid.uuid4().hex[:8]}",
            name="Alice de Vries",
            email="alice.bench@example.nl",
            phone="+31201234567",
            address_street="Keizersgracht 1",
            address_postcode="1015CJ",
            address_city="Amsterdam",
            vat_number="NL000099998B57",
        )
        customer.save()
        User(email="alice.bench@example.nl", kind="customer", customer=customer).save()
        for start in range(0, audit, 1000):
            audit_append_many(
                Event("accounts.login", "subject:bench", customer.pk, {"i": i})
                for i in range(start, min(audit, start + 1000))
            )
        now = timezone.now()
        RevealRecord.objects.bulk_create(
            RevealRecord(
                subject=customer.pk,
                at=now - dt.timedelta(days=i),
                actor="user:1",
                purpose="contract_administration",
                categories=["user.contact.email"],
                audit_seq=1,
            )
            for i in range(reveals)
        )
        Disclosure.objects.bulk_create(
            Disclosure(
                subject=customer.pk,
                at=now - dt.timedelta(days=30 * i),
                recipient="sidn",
                purpose="domain_registration",
                categories=["user.name", "user.contact.email"],
                legal_basis="contract",
                actor="system:bench",
                audit_seq=1,
            )
            for i in range(disclosures)
        )
        _billing_history(customer, months=24)
    return customer


def bench_rights_export() -> list[Figure]:
    from django.db import connection

    from kluis.audit.reveals import reveal_batch
    from kluis.policy.enforce import Actor
    from kluis.rights.export import build_export, export_json
    from kluis.rights.pdf import export_pdf
    from kluis.vault.keys import key_scope

    customer = _history_customer(audit=5000, reveals=500, disclosures=120)
    sizes: dict[str, int] = {}

    def export() -> None:
        with key_scope(), reveal_batch():
            data = build_export(
                subject=customer.pk, actor=Actor.subject(customer.pk), language="nl"
            )
            sizes["json"] = len(export_json(data))
            sizes["pdf"] = len(export_pdf(data))

    took = best_of(3, export)
    subject = customer.pk.hex if connection.vendor == "sqlite" else str(customer.pk)

    def raw_read() -> None:
        # The same rows, read bare: the customer and login, the audit entries, the
        # reveal and disclosure ledgers, the keys.
        with connection.cursor() as cursor:
            for table, column in (
                ("accounts_customer", "id"),
                ("accounts_user", "customer_id"),
                ("audit_auditentry", "subject"),
                ("audit_revealrecord", "subject"),
                ("audit_disclosure", "subject"),
                ("billing_invoice", "customer_id"),
                ("billing_payment", "subject"),
            ):
                cursor.execute(f"SELECT * FROM {table} WHERE {column} = %s", [subject])
                cursor.fetchall()

    floor = best_of(3, raw_read)
    return [
        Figure(
            "access export JSON+PDF, customer with 5,000 audit entries, 500 reveals, "
            f"120 disclosures, 24 invoices and payments ({sizes['pdf'] // 1024} KiB PDF)",
            took * 1000,
            "ms",
            floor * 1000,
            "< 1000 ms",
            took < 1.0,
        )
    ]


def _expired_subjects(n: int) -> None:
    """`n` customers whose contract ended two years ago, each with a live record key.

    The sealed columns hold random bytes and the keys random wrapped bytes: the
    sweep never opens a value, so real encryption would only slow the set-up.
    """
    from django.db import transaction
    from django.utils import timezone

    from kluis.accounts.models import Customer
    from kluis.vault.models import DataKey

    ended = timezone.now() - dt.timedelta(days=730)
    tag = uuid.uuid4().hex[:4]
    for start in range(0, n, 5000):
        chunk = range(start, min(n, start + 5000))
        customers = []
        for i in chunk:
            c = Customer(number=f"S{tag}{i:07d}", contract_ended_at=ended)
            c.__dict__["name"] = os.urandom(40)
            c.__dict__["email"] = os.urandom(40)
            c.email_index = os.urandom(32).hex()
            customers.append(c)
        with transaction.atomic():
            Customer.objects.bulk_create(customers)
        with transaction.atomic(using="keystore"):
            DataKey.objects.bulk_create(
                DataKey(
                    subject=c.pk,
                    retention_class="customer_record",
                    period="",
                    wrapped=os.urandom(60),
                    master_kid="bench",
                )
                for c in customers
            )


def _sweep(n: int, *, trace: bool) -> tuple[float, int, int]:
    """Seconds, peak traced bytes (when `trace`) and keys shredded for `n` subjects.

    tracemalloc slows every allocation several times over, so the time figure comes
    from a run without it and the memory figures from runs with it.
    """
    from kluis.rights.sweep import retention_sweep_run
    from kluis.vault.keys import key_scope

    _expired_subjects(n)
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    with key_scope():
        report = retention_sweep_run()
    took = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    assert report.keys_shredded == n, report
    return took, peak, report.keys_shredded


def bench_rights_sweep() -> list[Figure]:
    _small_time, small_peak, _ = _sweep(10_000, trace=True)
    _big_time, big_peak, _ = _sweep(100_000, trace=True)
    took, _peak, shredded = _sweep(100_000, trace=False)
    return [
        Figure(
            f"retention sweep over {shredded:,} subjects with expired keys (tombstone + shred)",
            took,
            "s",
            None,
            "< 60 s",
            took < 60,
        ),
        Figure(
            "retention sweep peak traced memory, 100,000 subjects (floor: 10,000)",
            big_peak / 2**20,
            "MiB",
            small_peak / 2**20,
            "flat (< 1.5x)",
            big_peak < 1.5 * small_peak,
        ),
    ]


def bench_blind_index_rotation(n: int = 5_000) -> list[Figure]:
    """Rotate the blind-index key over `n` customers with an address, a name and a VAT
    number each (3n index values, each recomputed from its decrypted sealed value)."""
    from django.db import transaction

    from kluis.accounts.models import Customer
    from kluis.vault.blind import blind_index_rotate
    from kluis.vault.fields import seal_pending, sealed_fields
    from kluis.vault.keys import key_scope

    tag = uuid.uuid4().hex[:4]
    fields = [f for f in sealed_fields(Customer) if f.name in ("name", "email", "vat_number")]
    for start in range(0, n, 1000):
        rows = [
            Customer(
                number=f"B{tag}{i:07d}",
                name=f"Klant {i}",
                email=f"klant{i}@example.nl",
                vat_number=f"NL{i:09d}B01",
            )
            for i in range(start, min(n, start + 1000))
        ]
        with transaction.atomic(), transaction.atomic(using="keystore"), key_scope():
            seal_pending(rows, fields)
            Customer.objects.bulk_create(rows)
    start_at = time.perf_counter()
    done = blind_index_rotate()
    took = time.perf_counter() - start_at
    return [
        Figure(
            f"blind-index rotation over {n:,} customers ({done.reindexed:,} index values)",
            took * 1000,
            "ms",
            None,
            "(reported)",
            None,
        )
    ]
