"""Importing CAMT.053 bank statements: each credit becomes a payment, matched to an invoice.

Matching, in this order: the betalingskenmerk (when its check digit is right), then
an invoice number in the description; both decide. Amount and account holder's name
only propose, for finance to confirm.

A statement of 100,000 entries is imported in batches of BATCH_SIZE entries, streamed
from the file: per batch one query for the entry references already imported, one
locking read of the invoices named by reference or number, one read of the open
invoices of the holders' names, and bulk writes of payments, keys, invoices and
refunds. The whole file is still one transaction: all of it or none of it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, Field, Lookup, Model, Q
from django.utils import timezone
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.billing.camt import Entry, StatementHeader, StatementRefused, read_statement
from kluis.billing.models import BankStatement, Invoice, Payment, Refund
from kluis.billing.reference import is_valid
from kluis.billing.services import BILLING
from kluis.billing.settlement import invoices_paid
from kluis.vault import keys
from kluis.vault.fields import BlindIndexField, seal_pending, sealed_fields

INVOICE_NUMBER = re.compile(r"\b([A-Z]{1,10}\d{4}-\d{6})\b")
# Entries per batch: large enough that queries per entry vanish, small enough that
# a batch's invoices and payments stay a few megabytes.
BATCH_SIZE = 2000
# What an import reads of the invoices named by reference or number: what matching
# and take_payment use, and what the paid handlers of kluis itself read (order,
# number, customer). A handler that reads another field loads it per invoice.
INVOICE_FIELDS = (
    "id",
    "kind",
    "number",
    "customer_id",
    "order_id",
    "payment_reference",
    "total_cents",
    "paid_cents",
    "paid_at",
)


@dataclass
class ImportResult:
    entries: int = 0
    new: int = 0
    already_imported: int = 0
    not_credits: int = 0
    matches: dict[str, int] = field(default_factory=dict)


def our_iban() -> str:
    try:
        return str(IBAN(settings.KLUIS_IBAN).compact)
    except SchwiftyException as exc:
        raise StatementRefused(f"KLUIS_IBAN is not a valid IBAN: {exc}") from None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _named(entry: Entry) -> tuple[str, list[str]]:
    """The betalingskenmerk to look up ("" if none or a bad check digit) and the
    invoice numbers in the description, in the order they appear."""
    text = entry.unstructured
    reference = "".join(entry.structured_reference.split())
    if reference and is_valid(reference):
        return reference, INVOICE_NUMBER.findall(text.upper())
    if reference:
        text = f"{text} {entry.structured_reference}"  # a bad check digit: just text
    return "", INVOICE_NUMBER.findall(text.upper())


def _holder_index(holder: str) -> str:
    index = Customer._meta.get_field("name_index")
    assert isinstance(index, BlindIndexField)
    return index.lookup_value(holder)


@dataclass
class _Run:
    """One import: what it counts, and the statement row once a payment needs it."""

    header: StatementHeader
    path: Path
    imported_by: User | None
    result: ImportResult = field(default_factory=ImportResult)
    statement: BankStatement | None = None

    def statement_row(self) -> BankStatement:
        if self.statement is None:
            self.statement = BankStatement.objects.create(
                version=self.header.version,
                message_id=self.header.message_id,
                statement_id=self.header.statement_id,
                sha256=_file_sha256(self.path),
                imported_by=self.imported_by,
            )
        return self.statement


@dataclass
class _Batch:
    """What a batch found in the database before its entries are gone through."""

    known: set[str]
    by_reference: dict[str, Invoice]
    by_number: dict[str, Invoice]
    # Open invoices per customer name index whose open amount equals an entry's amount.
    by_holder: dict[str, list[Invoice]]
    # The name index of each customer above, for invoices whose open amount moves.
    holder_of: dict[uuid.UUID, str | None]
    # Invoices this batch added a payment to, with their state as it is now; and the
    # same by customer name index.
    touched: dict[uuid.UUID, Invoice] = field(default_factory=dict)
    touched_by_holder: dict[str | None, list[Invoice]] = field(default_factory=dict)

    def touch(self, invoice: Invoice) -> None:
        if invoice.pk not in self.touched:
            self.touched[invoice.pk] = invoice
            holder = self.holder_of[invoice.customer_id]
            self.touched_by_holder.setdefault(holder, []).append(invoice)


class _AnyOf(Lookup):  # type: ignore[type-arg]
    """`field = ANY(%s)`: PostgreSQL takes thousands of values as one array parameter
    (an IN list costs a placeholder each, to build, quote and parse)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _among(model: type[Model], name: str, values: Collection[Any]) -> Q:
    """The rows whose field `name` is one of `values` (a set or list)."""
    connection = connections[router.db_for_read(model)]
    if connection.vendor == "postgresql":
        field = model._meta.get_field(name)
        assert isinstance(field, Field)
        prepared = [field.get_db_prep_value(v, connection) for v in values]
        return Q(_AnyOf(F(name), prepared))
    return Q(**{f"{name}__in": values})


def _batch_lookups(entries: list[Entry]) -> tuple[_Batch, list[tuple[str, list[str]]]]:
    named = [_named(e) for e in entries]
    references = {reference for reference, _ in named if reference}
    numbers = {number for _, found in named for number in found}
    locked: list[Invoice] = []
    if references or numbers:
        # Locked in primary-key order, so two imports never wait on each other crosswise.
        locked = list(
            Invoice.objects.select_for_update(of=("self",))
            .only(*INVOICE_FIELDS)
            .filter(kind=Invoice.Kind.INVOICE)
            .filter(
                _among(Invoice, "payment_reference", references)
                | _among(Invoice, "number", numbers)
            )
            .order_by("pk")
        )
    # Read after the locks: an import of the same file that held them has committed.
    known = set(
        Payment.objects.filter(
            _among(Payment, "entry_reference", {e.reference for e in entries})
        ).values_list("entry_reference", flat=True)
    )
    batch = _Batch(
        known=known,
        by_reference={i.payment_reference: i for i in locked},
        by_number={i.number: i for i in locked},
        by_holder={},
        holder_of={},
    )
    # Amount and name are only tried for what neither reference nor number decides.
    undecided = [
        e
        for e, n in zip(entries, named, strict=True)
        if e.holder and _decided(batch, n) is None and e.reference not in known
    ]
    candidates: list[Invoice] = []
    if undecided:
        candidates = list(
            Invoice.objects.filter(
                kind=Invoice.Kind.INVOICE,
                customer__name_index__in={_holder_index(e.holder) for e in undecided},
            )
            .alias(open=F("total_cents") - F("paid_cents"))
            .filter(open__in={e.amount_cents for e in undecided})
            .order_by()
            .only("id", "customer_id", "total_cents", "paid_cents", "paid_at")
        )
    customers = {i.customer_id for i in locked} | {i.customer_id for i in candidates}
    if customers:
        batch.holder_of = dict(
            Customer.objects.filter(_among(Customer, "id", customers))
            .order_by()
            .values_list("pk", "name_index")
        )
    for invoice in candidates:
        holder = batch.holder_of[invoice.customer_id]
        assert holder is not None  # the candidates were found by it
        batch.by_holder.setdefault(holder, []).append(invoice)
    return batch, named


def _decided(batch: _Batch, named: tuple[str, list[str]]) -> tuple[str, Invoice] | None:
    reference, numbers = named
    if reference and reference in batch.by_reference:
        return Payment.Match.REFERENCE, batch.by_reference[reference]
    for number in numbers:
        if number in batch.by_number:
            return Payment.Match.INVOICE_NUMBER, batch.by_number[number]
    return None


def _proposal(batch: _Batch, entry: Entry) -> Invoice | None:
    """The one open invoice of the holder's name with this open amount, if just one.

    Invoices this batch already paid on are judged by their state now, as if each
    entry were imported after the ones before it.
    """
    if not entry.holder:
        return None
    lookup = _holder_index(entry.holder)
    found = {
        i.pk: i
        for i in batch.by_holder.get(lookup, [])
        if i.pk not in batch.touched and i.open_cents == entry.amount_cents
    }
    for invoice in batch.touched_by_holder.get(lookup, []):
        if invoice.open_cents == entry.amount_cents:
            found[invoice.pk] = invoice
    return next(iter(found.values())) if len(found) == 1 else None


def _payment_record(
    statement: BankStatement, entry: Entry, how: str, invoice: Invoice | None
) -> Payment:
    """The payment of one entry, not yet saved (the batch saves its payments at once)."""
    decided = how in (Payment.Match.REFERENCE, Payment.Match.INVOICE_NUMBER)
    payment = Payment(
        statement=statement,
        entry_reference=entry.reference,
        booking_date=entry.booking_date,
        amount_cents=entry.amount_cents,
        match=how,
        invoice=invoice if decided else None,
        proposed_invoice=invoice if how == Payment.Match.PROPOSED else None,
    )
    # Only a decided match makes the payer that customer; until then the payment is a
    # data subject of its own, so a wrong proposal never files it under someone else.
    payment.subject = invoice.customer_id if decided and invoice is not None else payment.pk
    for name, value in (
        ("iban", entry.iban),
        ("holder", entry.holder),
        ("remittance", entry.unstructured),
        ("reference", entry.structured_reference),
    ):
        if value:
            setattr(payment, name, value)
    return payment


def _insert(model: type[Payment], rows: list[Payment]) -> None:
    """INSERT new rows, sealing as save() does.

    bulk_create builds its SQL value by value, which is most of the time of an import;
    each field's pre_save (a SealedField's seals there) and database preparation are
    the same as in bulk_create. PostgreSQL takes the rows in one COPY (an INSERT per
    row costs it a parse and plan per row); SQLite runs one prepared INSERT per row.
    """
    if not rows:
        return
    using = router.db_for_write(model)
    connection = connections[using]
    fields = list(model._meta.concrete_fields)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [
        [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields] for row in rows
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
        else:
            sql = (
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names, not input
                f"VALUES ({', '.join(['%s'] * len(fields))})"
            )
            cursor.executemany(sql, values)
    for row in rows:
        row._state.adding = False
        row._state.db = using


def _save_paid(invoices: list[Invoice]) -> None:
    """Write the paid amount and date of many invoices, and nothing else of them.

    bulk_update's CASE over thousands of rows costs more to build than to execute.
    PostgreSQL gets one UPDATE joined to the new values passed as three arrays;
    SQLite one parametrised UPDATE run per row.
    """
    if not invoices:
        return
    connection = connections[router.db_for_write(Invoice)]
    meta = Invoice._meta
    by_name = {f.name: f for f in meta.concrete_fields}
    pk, paid_cents, paid_at = by_name["id"], by_name["paid_cents"], by_name["paid_at"]
    table = connection.ops.quote_name(meta.db_table)
    ids = [pk.get_db_prep_value(i.pk, connection) for i in invoices]
    amounts = [i.paid_cents for i in invoices]
    dates = [paid_at.get_db_prep_value(i.paid_at, connection) for i in invoices]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            name = connection.ops.quote_name
            sql = (
                f"UPDATE {table} SET {name(paid_cents.column)} = new.paid_cents, "  # noqa: S608
                f"{name(paid_at.column)} = new.paid_at "
                f"FROM unnest(%s::{pk.db_type(connection)}[], "
                f"%s::{paid_cents.db_type(connection)}[], "
                f"%s::{paid_at.db_type(connection)}[]) AS new(id, paid_cents, paid_at) "
                f"WHERE {table}.{name(pk.column)} = new.id"
            )
            cursor.execute(sql, [ids, amounts, dates])
        else:
            sql = (
                f"UPDATE {table} SET {paid_cents.column} = %s, "  # noqa: S608 - names
                f"{paid_at.column} = %s WHERE {pk.column} = %s"
            )
            cursor.executemany(sql, list(zip(amounts, dates, ids, strict=True)))


def _import_batch(run: _Run, entries: list[Entry]) -> None:
    if not entries:
        return
    batch, named = _batch_lookups(entries)
    payments: list[Payment] = []
    settled: list[Invoice] = []
    refunds: list[Refund] = []
    for entry, names in zip(entries, named, strict=True):
        if entry.reference in batch.known:
            run.result.already_imported += 1
            continue
        batch.known.add(entry.reference)  # the same reference later in the file
        decided = _decided(batch, names)
        if decided is None:
            proposal = _proposal(batch, entry)
            how: str = Payment.Match.PROPOSED if proposal is not None else Payment.Match.NONE
            payments.append(_payment_record(run.statement_row(), entry, how, proposal))
        else:
            how, invoice = decided
            payment = _payment_record(run.statement_row(), entry, how, invoice)
            payments.append(payment)
            batch.touch(invoice)
            paid_now, excess = invoice.take_payment(payment.amount_cents, at=timezone.now())
            if paid_now:
                settled.append(invoice)
            if excess > 0:
                refunds.append(
                    Refund(
                        invoice=invoice,
                        payment=payment,
                        amount_cents=excess,
                        proposed_by=run.imported_by,
                    )
                )
        run.result.new += 1
        run.result.matches[how] = run.result.matches.get(how, 0) + 1
    seal_pending(payments, sealed_fields(Payment))
    _insert(Payment, payments)
    _save_paid(list(batch.touched.values()))
    invoices_paid(settled)
    Refund.objects.bulk_create(refunds, batch_size=500)


def statement_import(*, path: Path, imported_by: User | None) -> ImportResult:
    """Import one CAMT.053 file, all or nothing; importing it again adds nothing.

    Raises StatementRefused (and imports nothing) for anything that is not a valid
    statement of our account in euro with positive amounts.
    """
    ours = our_iban()
    header, entries = read_statement(path)
    if header.iban != ours:
        raise StatementRefused(f"the statement is for account {header.iban}, not ours")
    if header.currency and header.currency != "EUR":
        raise StatementRefused(f"the account currency {header.currency} is not EUR")
    run = _Run(header=header, path=path, imported_by=imported_by)
    result = run.result
    with transaction.atomic(), keys.key_scope():
        pending: list[Entry] = []
        for entry in entries:
            result.entries += 1
            if entry.currency != "EUR":
                raise StatementRefused(f"entry {entry.reference} is in {entry.currency}, not EUR")
            if entry.amount_cents <= 0:
                raise StatementRefused(f"entry {entry.reference} has a zero or negative amount")
            if not entry.credit or not entry.booked:
                result.not_credits += 1
                continue
            pending.append(entry)
            if len(pending) >= BATCH_SIZE:
                _import_batch(run, pending)
                pending = []
        _import_batch(run, pending)
        statement = run.statement
        if statement is not None:
            statement.entries = result.entries
            statement.new_payments = result.new
            statement.save(update_fields=["entries", "new_payments"])
            audit_append(
                action="billing.statement_imported",
                actor=imported_by.actor().ref if imported_by else BILLING.ref,
                data={
                    "statement": statement.pk,
                    "message_id": header.message_id,
                    "new": result.new,
                    "matches": result.matches,
                },
            )
    return result
