"""Importing CAMT.053 bank statements: each credit becomes a payment, matched to an invoice.

What is imported: every statement of one of our accounts (`KLUIS_IBAN`, one or more)
in the file, or in each file of a zip; statements of other accounts are skipped and
named in the result. Each transaction of a booked credit entry is a payment of its
own: a batch entry with several `TxDtls` becomes several payments, each with its own
amount, payer and remittance information. Entries in another currency than the
account's euro are skipped and counted, never summed.

Matching, in this order: a betalingskenmerk with a right check digit (from any
structured reference, any issuer, an ISO 11649 RF reference wrapping one, or written
in the text), then an invoice number in any of the remittance texts (Ustrd,
AddtlRmtInf, RfrdDocInf, AddtlTxInf, AddtlNtryInf); both decide. Amount and account
holder's name only propose, for finance to confirm.

Which entries were imported before: each payment carries a reference of its entry
that is the same in every export of it (`entry_references`, documented in the
README): the bank's AcctSvcrRef or NtryRef when the entry has one, else a fingerprint
of the entry's content. A reference repeated inside one file is numbered (`#2`, …),
so two identical entries of one file are two payments; a batch entry's payments add
the transaction's place (`/1`, `/2`, …).

A statement of 100,000 entries is imported in batches of BATCH_SIZE payments,
streamed from the file: per batch one query for the references already imported, one
locking read of the invoices named by kenmerk or number, one read of the open
invoices of the holders' names, and bulk writes of payments, keys, invoices and
refunds. The whole upload is still one transaction: all of it or none of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, Field, Lookup, Model, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from stdnum import iso11649

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.billing.camt import Entry, Part, StatementHeader, StatementRefused, read_statement
from kluis.billing.models import BankStatement, Invoice, Payment, Refund
from kluis.billing.reference import is_valid
from kluis.billing.services import BILLING
from kluis.billing.settlement import invoices_paid
from kluis.billing.zipped import statement_files
from kluis.vault import keys
from kluis.vault.fields import BlindIndexField, seal_pending, sealed_fields

INVOICE_NUMBER = re.compile(r"\b([A-Z]{1,10}\d{4}-\d{6})\b")
# A betalingskenmerk written in a description: 16 digits, maybe in groups of four.
KENMERK_IN_TEXT = re.compile(r"(?<!\d)(\d{4}[ .]?\d{4}[ .]?\d{4}[ .]?\d{4})(?!\d)")
# Payments per batch: large enough that queries per payment vanish, small enough that
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
    "credited_at",
)


@dataclass
class ImportResult:
    entries: int = 0
    new: int = 0
    already_imported: int = 0
    not_credits: int = 0
    # Entries in another currency than the account's euro: skipped, never summed.
    foreign_currency: int = 0
    # Batch entries whose transactions state no amounts that add up: one payment, for
    # finance to link, rather than a guess.
    unsplit_batches: int = 0
    statements: int = 0
    # Accounts of statements in the upload that are not ours, as given (skipped).
    skipped_accounts: list[str] = field(default_factory=list)
    matches: dict[str, int] = field(default_factory=dict)


def own_ibans() -> list[str]:
    """Our accounts: `KLUIS_IBAN`, one IBAN or several separated by commas (compact,
    checked with schwifty at start-up)."""
    found = [str(IBAN(text).compact) for text in settings.KLUIS_IBANS]
    if not found:
        raise StatementRefused(_("KLUIS_IBAN noemt geen rekening"))
    return found


def our_iban() -> str:
    """The account refunds are paid from: the first of `KLUIS_IBAN`."""
    return own_ibans()[0]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def entry_fingerprint(account: str, entry: Entry) -> str:
    """The reference of an entry that has no bank reference: its content, hashed.

    SHA-256 over the canonical JSON of: the account's IBAN; booking date; value date
    as given; amount in cents; currency; credit or debit; booked or not; and for each
    transaction in order its amount, payer IBAN, payer name, structured references,
    remittance texts and EndToEndId. The statement's own id, its creation time and
    the entry's position are left out on purpose: they differ between a day's export
    and a later export covering the same day. `fp-` and the first 40 hex digits.
    """
    content = [
        account,
        entry.booking_date.isoformat(),
        entry.value_date,
        entry.amount_cents,
        entry.currency,
        entry.credit,
        entry.booked,
        [
            [p.amount_cents, p.iban, p.holder, list(p.references), list(p.texts), p.end_to_end]
            for p in entry.parts
        ],
    ]
    canonical = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return "fp-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class _Slip:
    """One payment to be: a transaction of an entry, with its reference and amount."""

    reference: str
    entry: Entry
    part: Part
    amount_cents: int
    # False for a batch entry that could not be split: no rule decides or proposes.
    decide: bool = True


def _slips(entry: Entry, reference: str) -> list[_Slip]:
    parts = entry.parts
    if len(parts) == 1:
        return [_Slip(reference, entry, parts[0], entry.amount_cents)]
    amounts = [p.amount_cents for p in parts]
    if (
        all(a is not None and a > 0 for a in amounts)
        and sum(a for a in amounts if a is not None) == entry.amount_cents
    ):
        return [
            _Slip(f"{reference}/{n}", entry, part, part.amount_cents or 0)
            for n, part in enumerate(parts, 1)
        ]
    ibans = {p.iban for p in parts}
    holders = {p.holder for p in parts}
    merged = Part(
        amount_cents=entry.amount_cents,
        iban=ibans.pop() if len(ibans) == 1 else "",
        holder=holders.pop() if len(holders) == 1 else "",
        references=tuple(r for p in parts for r in p.references),
        texts=tuple(t for p in parts for t in p.texts),
        end_to_end="",
    )
    return [_Slip(reference, entry, merged, entry.amount_cents, decide=False)]


def _kenmerk(reference: str) -> str:
    """The betalingskenmerk a structured reference carries, or ""."""
    compact = "".join(reference.split())
    if compact[:2].upper() == "RF" and iso11649.is_valid(compact):
        compact = compact[4:]  # an RF creditor reference wrapping the kenmerk
    return compact if is_valid(compact) else ""


def _named(part: Part) -> tuple[list[str], list[str]]:
    """The betalingskenmerken (right check digit) and the invoice numbers the payer
    gave, in the order given: structured references first, then the texts."""
    kenmerken: list[str] = []
    loose: list[str] = []
    for reference in part.references:
        kenmerk = _kenmerk(reference)
        if kenmerk:
            kenmerken.append(kenmerk)
        else:
            loose.append(reference)  # a bad check digit or another scheme: just text
    text = " ".join([*part.texts, *loose])
    for written in KENMERK_IN_TEXT.findall(text):
        kenmerk = re.sub(r"[ .]", "", written)
        if is_valid(kenmerk) and kenmerk not in kenmerken:
            kenmerken.append(kenmerk)
    return kenmerken, INVOICE_NUMBER.findall(text.upper())


def _holder_index(holder: str) -> str:
    index = Customer._meta.get_field("name_index")
    assert isinstance(index, BlindIndexField)
    return index.lookup_value(holder)


@dataclass
class _Run:
    """One statement of an upload: the statement row, made once a payment needs it."""

    header: StatementHeader
    sha256: str
    imported_by: User | None
    result: ImportResult
    statement: BankStatement | None = None
    entries: int = 0
    new: int = 0

    def statement_row(self) -> BankStatement:
        if self.statement is None:
            self.statement = BankStatement.objects.create(
                version=self.header.version,
                message_id=self.header.message_id,
                statement_id=self.header.statement_id,
                sha256=self.sha256,
                imported_by=self.imported_by,
            )
        return self.statement


@dataclass
class _Batch:
    """What a batch found in the database before its payments are gone through."""

    known: set[str]
    by_reference: dict[str, Invoice]
    by_number: dict[str, Invoice]
    # Open invoices per customer name index whose open amount equals a payment's amount.
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


def _batch_lookups(slips: list[_Slip]) -> tuple[_Batch, list[tuple[list[str], list[str]]]]:
    named = [_named(s.part) if s.decide else ([], []) for s in slips]
    references = {k for kenmerken, _numbers in named for k in kenmerken}
    numbers = {number for _kenmerken, found in named for number in found}
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
            _among(Payment, "entry_reference", {s.reference for s in slips})
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
        s
        for s, n in zip(slips, named, strict=True)
        if s.decide and s.part.holder and _decided(batch, n) is None and s.reference not in known
    ]
    candidates: list[Invoice] = []
    if undecided:
        candidates = list(
            Invoice.objects.filter(
                kind=Invoice.Kind.INVOICE,
                customer__name_index__in={_holder_index(s.part.holder) for s in undecided},
            )
            .alias(open=F("total_cents") - F("paid_cents"))
            .filter(open__in={s.amount_cents for s in undecided})
            .order_by()
            .only("id", "customer_id", "total_cents", "paid_cents", "paid_at", "credited_at")
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


def _decided(batch: _Batch, named: tuple[list[str], list[str]]) -> tuple[str, Invoice] | None:
    kenmerken, numbers = named
    for kenmerk in kenmerken:
        if kenmerk in batch.by_reference:
            return Payment.Match.REFERENCE, batch.by_reference[kenmerk]
    for number in numbers:
        if number in batch.by_number:
            return Payment.Match.INVOICE_NUMBER, batch.by_number[number]
    return None


def _proposal(batch: _Batch, slip: _Slip) -> Invoice | None:
    """The one open invoice of the holder's name with this open amount, if just one.

    Invoices this batch already paid on are judged by their state now, as if each
    payment were imported after the ones before it.
    """
    if not slip.decide or not slip.part.holder:
        return None
    lookup = _holder_index(slip.part.holder)
    found = {
        i.pk: i
        for i in batch.by_holder.get(lookup, [])
        if i.pk not in batch.touched and i.open_cents == slip.amount_cents
    }
    for invoice in batch.touched_by_holder.get(lookup, []):
        if invoice.open_cents == slip.amount_cents:
            found[invoice.pk] = invoice
    return next(iter(found.values())) if len(found) == 1 else None


def _payment_record(
    statement: BankStatement, slip: _Slip, how: str, invoice: Invoice | None
) -> Payment:
    """The payment of one transaction, not yet saved (the batch saves its payments at once)."""
    decided = how in (Payment.Match.REFERENCE, Payment.Match.INVOICE_NUMBER)
    payment = Payment(
        statement=statement,
        entry_reference=slip.reference,
        booking_date=slip.entry.booking_date,
        amount_cents=slip.amount_cents,
        match=how,
        invoice=invoice if decided else None,
        proposed_invoice=invoice if how == Payment.Match.PROPOSED else None,
    )
    # Only a decided match makes the payer that customer; until then the payment is a
    # data subject of its own, so a wrong proposal never files it under someone else.
    payment.subject = invoice.customer_id if decided and invoice is not None else payment.pk
    part = slip.part
    for name, value in (
        ("iban", part.iban),
        ("holder", part.holder),
        ("remittance", " ".join(part.texts)),
        ("reference", " ".join(part.references)),
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


def _import_batch(run: _Run, slips: list[_Slip]) -> None:
    if not slips:
        return
    batch, named = _batch_lookups(slips)
    payments: list[Payment] = []
    settled: list[Invoice] = []
    refunds: list[Refund] = []
    for slip, names in zip(slips, named, strict=True):
        if slip.reference in batch.known:
            run.result.already_imported += 1
            continue
        batch.known.add(slip.reference)
        decided = _decided(batch, names)
        if decided is None:
            proposal = _proposal(batch, slip)
            how: str = Payment.Match.PROPOSED if proposal is not None else Payment.Match.NONE
            payments.append(_payment_record(run.statement_row(), slip, how, proposal))
        else:
            how, invoice = decided
            payment = _payment_record(run.statement_row(), slip, how, invoice)
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
        run.new += 1
        run.result.new += 1
        run.result.matches[how] = run.result.matches.get(how, 0) + 1
    seal_pending(payments, sealed_fields(Payment))
    _insert(Payment, payments)
    _save_paid(list(batch.touched.values()))
    invoices_paid(settled)
    Refund.objects.bulk_create(refunds, batch_size=500)


class _References:
    """The reference of each entry of one file, the same in every export of it."""

    def __init__(self) -> None:
        self._seen: Counter[tuple[str, str]] = Counter()

    def of(self, account: str, entry: Entry) -> str:
        base = entry.bank_reference or entry_fingerprint(account, entry)
        self._seen[account, base] += 1
        n = self._seen[account, base]
        return base if n == 1 else f"{base}#{n}"


def _statements(
    path: Path, ours: list[str], result: ImportResult
) -> Iterator[tuple[StatementHeader, Entry | None]]:
    """Each statement of ours with its entries (None once, for a statement without
    any); other accounts' statements are read (and validated) but skipped."""
    header: StatementHeader | None = None
    mine = False
    for item in read_statement(path):
        if isinstance(item, StatementHeader):
            header = item
            if item.other_id and not item.iban:
                raise StatementRefused(
                    _(
                        "het afschrift noemt de rekening %(account)s zonder IBAN; "
                        "alleen afschriften van een IBAN-rekening worden ingelezen"
                    ),
                    account=item.other_id,
                )
            mine = item.iban in ours
            if not mine:
                result.skipped_accounts.append(item.iban)
                continue
            if item.currency and item.currency != "EUR":
                raise StatementRefused(
                    _("de rekening %(account)s is in %(currency)s, niet in euro"),
                    account=item.iban,
                    currency=item.currency,
                )
            result.statements += 1
            yield header, None
        elif mine:
            assert header is not None
            yield header, item


def _import_file(path: Path, ours: list[str], result: ImportResult, user: User | None) -> None:
    sha256 = _file_sha256(path)
    references = _References()
    run: _Run | None = None
    pending: list[_Slip] = []
    for header, entry in _statements(path, ours, result):
        if run is None or run.header is not header:
            if run is not None:
                _import_batch(run, pending)
                pending = []
                _close(run)
            run = _Run(header=header, sha256=sha256, imported_by=user, result=result)
        if entry is None:
            continue
        result.entries += 1
        run.entries += 1
        if entry.currency != "EUR":
            result.foreign_currency += 1
            continue
        if entry.amount_cents <= 0:
            raise StatementRefused(
                _("post %(entry)s heeft een bedrag van nul of minder"), entry=entry.label
            )
        if not entry.credit or not entry.booked:
            result.not_credits += 1
            continue
        slips = _slips(entry, references.of(header.iban, entry))
        if len(slips) == 1 and len(entry.parts) > 1:
            result.unsplit_batches += 1
        pending += slips
        if len(pending) >= BATCH_SIZE:
            _import_batch(run, pending)
            pending = []
    if run is not None:
        _import_batch(run, pending)
        _close(run)


def _close(run: _Run) -> None:
    statement = run.statement
    if statement is None:
        return
    statement.entries = run.entries
    statement.new_payments = run.new
    statement.save(update_fields=["entries", "new_payments"])
    audit_append(
        action="billing.statement_imported",
        actor=run.imported_by.actor().ref if run.imported_by else BILLING.ref,
        data={
            "statement": statement.pk,
            "message_id": run.header.message_id,
            "statement_id": run.header.statement_id,
            "new": run.new,
        },
    )


def statement_import(*, path: Path, imported_by: User | None) -> ImportResult:
    """Import a CAMT.053 file, or a zip of them, all or nothing; again, it adds nothing.

    Raises StatementRefused (and imports nothing) for anything that is not a valid
    statement, for an upload with no statement of ours, and for a zip beyond its
    limits (kluis.billing.zipped).
    """
    ours = own_ibans()
    result = ImportResult()
    with tempfile.TemporaryDirectory(prefix="kluis-statement-") as unpacked:
        files = statement_files(path, Path(unpacked))
        with transaction.atomic(), keys.key_scope():
            for file in files:
                _import_file(file, ours, result, imported_by)
            if result.statements == 0:
                raise StatementRefused(
                    _("er is geen afschrift van onze rekening in; overgeslagen: %(accounts)s"),
                    accounts=", ".join(result.skipped_accounts) or "-",
                )
    return result
