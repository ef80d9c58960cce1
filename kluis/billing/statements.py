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
AddtlRmtInf, RfrdDocInf, AddtlTxInf, AddtlNtryInf); both decide. A transaction
naming several invoices pays each its open amount when it is exactly their open sum,
and is otherwise left whole for finance (`_allocation`). Amount and account holder's
name only propose, for finance to confirm. A payout of the payment provider pays
nothing (`settlement_reference`).

Which entries were imported before: each payment carries a reference of its entry
that is the same in every export of it (`entry_references`, documented in the
README): the bank's AcctSvcrRef or NtryRef when the entry has one, else a fingerprint
of the entry's content; it counts per account of ours (each payment stores the IBAN).
A reference repeated inside one file is numbered (`#2`, …),
so two identical entries of one file are two payments; a batch entry's payments add
the transaction's place (`/1`, `/2`, …).

A statement of 100,000 entries is imported in batches of BATCH_SIZE payments,
streamed from the file: per batch one query for the references already imported, one
locking read of the invoices named by kenmerk or number, one read of the open
invoices of the holders' names, and bulk writes of keys, payments (plain sealed
rows, `_Rows`: one COPY on PostgreSQL, one prepared INSERT on SQLite), invoices and
refunds. The whole upload is still one transaction: all of it or none of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, ForeignKey, QuerySet, UUIDField, signals
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.billing.bulk import among
from kluis.billing.camt import Entry, Part, StatementHeader, StatementRefused
from kluis.billing.camt_ahead import read_statement_ahead
from kluis.billing.models import BankStatement, Invoice, Payment, PayoutCheck, Refund
from kluis.billing.remittance import Named, Prepared
from kluis.billing.services import BILLING
from kluis.billing.settlement import invoices_paid
from kluis.billing.zipped import statement_files
from kluis.gc_pause import collect_young, cycle_collector_paused
from kluis.policy.loader import current_policy
from kluis.vault import keys
from kluis.vault.fields import (
    NONCE_BYTES,
    TOKEN_VERSION,
    BlindIndexField,
    aad_for,
    sealed_fields,
)

# Payments per batch: large enough that queries per payment vanish, small enough that
# a batch's invoices and payments stay a few megabytes.
BATCH_SIZE = 2000
# SQLite's page cache while an import runs, in KiB (its default is 2 MiB). A payment
# row goes into four B-trees at places its random id, its reference and its invoice
# decide; with 2 MiB of a 100,000-invoice ledger in memory most of those inserts
# read their page back from the file, and write it out again before the commit.
# The cache only grows as pages are used, and is set back when the import ends.
IMPORT_PAGE_CACHE_KIB = 128 * 1024
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
    "credited_cents",
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
    # Transactions naming several invoices with an amount that is not what they have
    # open together: one unlinked payment each, for finance to allocate.
    unallocated: int = 0
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


class _Slip(NamedTuple):
    """One payment to be: a transaction of an entry, with its reference and amount.

    A NamedTuple, as Part and Entry (kluis.billing.camt): one is made per payment.
    """

    reference: str
    entry: Entry
    part: Part
    amount_cents: int
    # False for a batch entry that could not be split: no rule decides or proposes.
    decide: bool = True
    # What the part names (named_in), and its payout reference (settlement_reference),
    # worked out as the file was read (kluis.billing.remittance.prepare).
    named: Named = ([], [])
    payout: str = ""


def _slips(prepared: Prepared, reference: str) -> list[_Slip]:
    entry, named, payouts = prepared.entry, prepared.named, prepared.payouts
    parts = entry.parts
    if len(parts) == 1:
        return [_Slip(reference, entry, parts[0], entry.amount_cents, True, named[0], payouts[0])]
    amounts = [p.amount_cents for p in parts]
    if (
        all(a is not None and a > 0 for a in amounts)
        and sum(a for a in amounts if a is not None) == entry.amount_cents
    ):
        return [
            _Slip(f"{reference}/{n}", entry, part, part.amount_cents or 0, True, found, payout)
            for n, (part, found, payout) in enumerate(zip(parts, named, payouts, strict=True), 1)
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
    # The name index of the customers whose name a payment to be proposed gives (the
    # only names a proposal is looked up by), for invoices whose open amount moves.
    holder_of: dict[uuid.UUID, str | None]
    # Invoices this batch added a payment to, with their state as it is now; and the
    # same by customer name index.
    touched: dict[uuid.UUID, Invoice] = field(default_factory=dict)
    touched_by_holder: dict[str | None, list[Invoice]] = field(default_factory=dict)

    def touch(self, invoice: Invoice) -> None:
        if invoice.pk not in self.touched:
            self.touched[invoice.pk] = invoice
            holder = self.holder_of.get(invoice.customer_id)
            if holder is not None:
                self.touched_by_holder.setdefault(holder, []).append(invoice)


_new_object = object.__new__
_set_slot = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown  # an enum member: looked up once, not per id
# A random (version 4) UUID's int: these bits cleared, then the version and variant set.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (4 << 76) | (0x8000 << 48)


def _uuid_from_hex(value: str) -> uuid.UUID:
    """uuid.UUID(hex=value) for a 32-digit hex string as SQLite holds a UUIDField.

    Made as UUID's own __init__ makes it (its two slots set with object.__setattr__),
    without that __init__'s argument checks: an import reads two such ids per invoice,
    200,000 for a large statement, and the checks were half of that time.
    """
    made = _new_object(uuid.UUID)
    _set_slot(made, "int", int(value, 16))
    _set_slot(made, "is_safe", _UNKNOWN)
    return made


def _random_ids(n: int) -> list[uuid.UUID]:
    """`n` new ids as uuid.uuid4() makes them (16 bytes of os.urandom each, with the
    version and variant bits set), from one read of the random source."""
    raw = os.urandom(16 * n)
    made = []
    for start in range(0, 16 * n, 16):
        value = _new_object(uuid.UUID)
        number = int.from_bytes(raw[start : start + 16], "big")
        _set_slot(value, "int", (number & _V4_CLEAR) | _V4_SET)
        _set_slot(value, "is_safe", _UNKNOWN)
        made.append(value)
    return made


def _invoice_rows(queryset: QuerySet[Invoice]) -> list[tuple[Any, ...]]:
    """The INVOICE_FIELDS of `queryset`'s invoices, as `values_list` gives them.

    values_list runs each column's converters on each value through a generator per
    row; here they run on the values that are not NULL only, and a UUID stored as hex
    (SQLite) is made from its hex directly. PostgreSQL needs no converter for these.
    """
    query = queryset.values_list(*INVOICE_FIELDS).query
    using = queryset.db
    connection = connections[using]
    compiler = query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([column for column, _sql, _alias in compiler.select])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    if not converters:
        return rows
    uuids = {
        i
        for i, name in enumerate(INVOICE_FIELDS)
        if isinstance(Invoice._meta.get_field(name), UUIDField | ForeignKey)
        and not connection.features.has_native_uuid_field
    }
    steps = []
    for i, (functions, expression) in converters.items():
        if i in uuids:
            steps.append((i, None, expression))
        else:
            steps.extend((i, function, expression) for function in functions)
    converted = []
    for row in rows:
        values = list(row)
        for i, function, expression in steps:
            value = values[i]
            if value is not None:
                values[i] = (
                    _uuid_from_hex(value)
                    if function is None
                    else function(value, expression, connection)
                )
        converted.append(tuple(values))
    return converted


def _loaded(rows: Iterable[tuple[Any, ...]]) -> list[Invoice]:
    """Invoices from `values_list(*INVOICE_FIELDS)` rows, as `only(*INVOICE_FIELDS)`
    would load them: the other fields deferred, read from the database on access.

    Model.__init__ walks all of an invoice's fields for each row, which was a fifth of
    an import; nothing listens to Invoice's init signals, so the rows are made as
    Django makes a deferred instance, minus that walk.
    """
    db = router.db_for_read(Invoice)
    if signals.pre_init.has_listeners(Invoice) or signals.post_init.has_listeners(Invoice):
        return [Invoice.from_db(db, INVOICE_FIELDS, values) for values in rows]
    made = []
    for values in rows:
        invoice = Invoice.__new__(Invoice)
        invoice.__dict__.update(zip(INVOICE_FIELDS, values, strict=True))
        state = ModelState()
        state.adding = False
        state.db = db
        invoice._state = state
        made.append(invoice)
    return made


def _batch_lookups(
    slips: list[_Slip], account: str
) -> tuple[_Batch, list[tuple[str, list[Invoice]] | None], list[str]]:
    """What the database knows of a batch's slips, the invoices each names, and each
    one's settlement reference ("" for all but a payout of the payment provider)."""
    # Worked out as the file was read; nothing for a batch entry left unsplit.
    payouts = [s.payout for s in slips]
    named = [s.named for s in slips]
    references = {k for kenmerken, _numbers in named for k in kenmerken}
    numbers = {number for _kenmerken, found in named for number in found}
    locked: list[Invoice] = []
    if references or numbers:
        # Locked in primary-key order, so two imports never wait on each other crosswise.
        locked = _loaded(
            _invoice_rows(
                Invoice.objects.select_for_update(of=("self",))
                .filter(kind=Invoice.Kind.INVOICE)
                .filter(
                    among(Invoice, "payment_reference", references)
                    | among(Invoice, "number", numbers)
                )
                .order_by("pk")
            )
        )
    # Read after the locks: an import of the same file that held them has committed.
    # A reference counts as imported on this account, or on an unknown one (payments
    # imported before the account was recorded); never because another account of ours
    # has an entry with the same bank reference.
    known = {
        reference
        for reference, on in Payment.objects.filter(
            among(Payment, "entry_reference", {s.reference for s in slips})
        )
        .order_by()
        .values_list("entry_reference", "account")
        if on in ("", account)
    }
    batch = _Batch(
        known=known,
        by_reference={i.payment_reference: i for i in locked},
        by_number={i.number: i for i in locked},
        by_holder={},
        holder_of={},
    )
    # Amount and name are only tried for what neither reference nor number decides.
    found = [_named_invoices(batch, n) for n in named]
    undecided = [
        s
        for s, f in zip(slips, found, strict=True)
        if s.decide and s.part.holder and f is None and s.reference not in known
    ]
    candidates: list[Invoice] = []
    lookups = {_holder_index(s.part.holder) for s in undecided}
    if lookups:
        candidates = _loaded(
            _invoice_rows(
                Invoice.objects.filter(
                    kind=Invoice.Kind.INVOICE,
                    customer__name_index__in=lookups,
                )
                .alias(open=F("total_cents") - F("credited_cents") - F("paid_cents"))
                .filter(open__in={s.amount_cents for s in undecided})
                .order_by()
            )
        )
    if lookups:
        # Only the names a proposal may be made on: touched_by_holder is read for these.
        batch.holder_of = dict(
            Customer.objects.filter(name_index__in=lookups)
            .order_by()
            .values_list("pk", "name_index")
        )
    for invoice in candidates:
        holder = batch.holder_of[invoice.customer_id]
        assert holder is not None  # the candidates were found by it
        batch.by_holder.setdefault(holder, []).append(invoice)
    return batch, found, payouts


def _named_invoices(
    batch: _Batch, named: tuple[list[str], list[str]]
) -> tuple[str, list[Invoice]] | None:
    """The invoices of ours a payment names, by its strongest rule: the kenmerken when
    any names an invoice of ours, else the invoice numbers. None when it names none."""
    kenmerken, numbers = named
    if len(kenmerken) == 1 and kenmerken[0] in batch.by_reference:
        return Payment.Match.REFERENCE, [batch.by_reference[kenmerken[0]]]  # the usual case
    for how, found in (
        (Payment.Match.REFERENCE, [batch.by_reference.get(k) for k in kenmerken]),
        (Payment.Match.INVOICE_NUMBER, [batch.by_number.get(n) for n in numbers]),
    ):
        invoices = list({i.pk: i for i in found if i is not None}.values())
        if invoices:
            return how, invoices
    return None


def _allocation(
    slip: _Slip, found: tuple[str, list[Invoice]] | None
) -> tuple[str, list[tuple[Invoice, int]]] | None:
    """What a payment pays: (rule, [(invoice, amount), …]); [] when it names several
    invoices and its amount is not exactly what they have open together; None when it
    names no invoice of ours.

    One named invoice takes the whole amount (more than is open is a refund proposal
    to the payer of that invoice). Several named invoices are each paid what is open
    on them when the amount is exactly their open sum; any other amount is left whole
    for finance to allocate, so no money is moved to one customer's invoice, nor a
    refund proposed, on a guess about another's.
    """
    if found is None:
        return None
    how, invoices = found
    if len(invoices) == 1:
        return how, [(invoices[0], slip.amount_cents)]
    open_ones = [i for i in invoices if i.credited_at is None and i.open_cents > 0]
    if open_ones and sum(i.open_cents for i in open_ones) == slip.amount_cents:
        return how, [(i, i.open_cents) for i in open_ones]
    return how, []


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


# The columns of a payment row, in the order _Rows writes them.
PAYMENT_COLUMNS = (
    "id",
    "statement",
    "entry_reference",
    "account",
    "subject",
    "booking_date",
    "amount_cents",
    "match",
    "invoice",
    "proposed_invoice",
    "created_at",
    # the sealed ones, last
    "iban",
    "holder",
    "remittance",
    "reference",
)
SEALED_COLUMNS = PAYMENT_COLUMNS[-4:]


class _Rows:
    """The payment rows of one batch as plain tuples, sealed and written at once.

    A Django model instance per payment (its __init__, descriptors, pre_save and
    get_db_prep_save per field) was most of an import's time. The rows here are the
    same: every personal value sealed with AES-GCM under its subject's key for the
    payment category and the fiscal year of the booking date, bound to the row, the
    column and the key scope exactly as SealedField does (tests open them through the
    model). The keys a batch needs are fetched, or created, in one go.
    """

    def __init__(self, statement: BankStatement, account: str) -> None:
        self.statement = statement
        self.account = account
        self.now = timezone.now()
        # (id, entry_reference, subject, booking_date, amount, match, invoice, proposed,
        #  the four plain values)
        self.pending: list[
            tuple[uuid.UUID, str, uuid.UUID, Any, int, str, Any, Any, tuple[str, ...]]
        ] = []
        # Ids made ahead, 256 at a time (one read of the random source each time).
        self.ids: list[uuid.UUID] = []

    def add(
        self,
        slip: _Slip,
        how: str,
        amount_cents: int,
        *,
        invoice: Invoice | None = None,
        proposed: Invoice | None = None,
        reference: str = "",
    ) -> uuid.UUID:
        """A payment of `amount_cents` of this slip; its id. Only a decided match
        (`invoice`) makes the payer that customer; until then the payment is a data
        subject of its own, so a wrong proposal never files it under someone else."""
        if not self.ids:
            self.ids = _random_ids(256)
        pk = self.ids.pop()
        part = slip.part
        self.pending.append(
            (
                pk,
                reference or slip.reference,
                invoice.customer_id if invoice is not None else pk,
                slip.entry.booking_date,
                amount_cents,
                how,
                invoice.pk if invoice is not None else None,
                proposed.pk if proposed is not None else None,
                (part.iban, part.holder, " ".join(part.texts), " ".join(part.references)),
            )
        )
        return pk

    def _scopes(self) -> tuple[list[keys.KeyScope], list[int]]:
        """The key scopes of the pending rows, each once, and each row's place in them."""
        policy = current_policy()
        by_name = {f.name: f for f in sealed_fields(Payment)}
        classes = {by_name[name].retention_class() for name in SEALED_COLUMNS}
        assert set(by_name) == set(SEALED_COLUMNS) and len(classes) == 1, by_name
        retention_class = classes.pop()
        yearly = policy.retention[retention_class].per_fiscal_year
        # The period as Payment.vault_period gives it: the booking date's year. One
        # KeyScope per scope, shared by its rows (found by the subject's int and the
        # year, which hash in C; a KeyScope's and a UUID's hash are Python code).
        places: dict[tuple[int, int], int] = {}
        scopes: list[keys.KeyScope] = []
        of_row = []
        for _pk, _ref, subject, day, *_rest in self.pending:
            year = day.year if yearly else 0
            place = places.get((subject.int, year))
            if place is None:
                place = places[subject.int, year] = len(scopes)
                scopes.append(keys.KeyScope(subject, retention_class, str(year) if yearly else ""))
            of_row.append(place)
        return scopes, of_row

    def write(self) -> None:
        if not self.pending:
            return
        model = Payment
        meta = model._meta
        concrete = {f.name: f for f in meta.concrete_fields}
        assert set(concrete) == set(PAYMENT_COLUMNS), sorted(concrete)
        scopes, of_row = self._scopes()
        keys.prefetch_or_create(scopes)
        cached = keys.cached_ciphers()
        ciphers = [cached.get(scope) for scope in scopes]
        using = router.db_for_write(model)
        connection = connections[using]
        native_uuid = connection.features.has_native_uuid_field
        ops = connection.ops
        days: dict[Any, Any] = {}
        created = ops.adapt_datetimefield_value(self.now)
        label = meta.label_lower
        names = [name.encode() for name in SEALED_COLUMNS]
        rows = []
        nonces = os.urandom(NONCE_BYTES * len(SEALED_COLUMNS) * len(self.pending))
        at = 0
        for (pk, ref, subject, day, amount, how, invoice, proposed, plain), place in zip(
            self.pending, of_row, strict=True
        ):
            scope = scopes[place]
            cipher = ciphers[place]
            if cipher is None:
                cipher = keys.cipher_for(scope, create=True)  # raises if shredded
            tokens: list[bytes | None] = []
            # A fresh nonce per value, from one read of the random source per batch;
            # the associated data as aad_for gives it, the row's part made once.
            row_aad = aad_for(label, pk, "\0", scope).split(b"\0")
            for name, value in zip(names, plain, strict=True):
                if not value:
                    tokens.append(None)
                    continue
                nonce = nonces[at : at + NONCE_BYTES]
                at += NONCE_BYTES
                aad = row_aad[0] + name + row_aad[1]
                tokens.append(TOKEN_VERSION + nonce + cipher.encrypt(nonce, value.encode(), aad))
            if day not in days:
                days[day] = ops.adapt_datefield_value(day)
            ids: tuple[Any, ...] = (
                (pk, subject, invoice, proposed)
                if native_uuid
                else (
                    pk.hex,
                    subject.hex,
                    invoice.hex if invoice is not None else None,
                    proposed.hex if proposed is not None else None,
                )
            )
            rows.append(
                (
                    ids[0],
                    self.statement.pk,
                    ref,
                    self.account,
                    ids[1],
                    days[day],
                    amount,
                    how,
                    ids[2],
                    ids[3],
                    created,
                    *tokens,
                )
            )
        table = ops.quote_name(meta.db_table)
        columns = ", ".join(ops.quote_name(concrete[name].column) for name in PAYMENT_COLUMNS)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One COPY: an INSERT per row costs PostgreSQL a parse and plan per row.
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                sql = (
                    f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names, not input
                    f"VALUES ({', '.join(['%s'] * len(PAYMENT_COLUMNS))})"
                )
                cursor.executemany(sql, rows)
        self.pending = []


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
    # The values in their database form, as get_db_prep_value gives them, without its
    # checks per value: the ids are UUIDs, and a batch settles at one moment or two.
    native = connection.features.has_native_uuid_field
    ids = [i.pk if native else i.pk.hex for i in invoices]
    amounts = [i.paid_cents for i in invoices]
    prepared: dict[Any, Any] = {}
    dates = []
    for invoice in invoices:
        if invoice.paid_at not in prepared:
            prepared[invoice.paid_at] = paid_at.get_db_prep_value(invoice.paid_at, connection)
        dates.append(prepared[invoice.paid_at])
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
    batch, found, settlements = _batch_lookups(slips, run.header.iban)
    rows: _Rows | None = None
    settled: list[Invoice] = []
    refunds: list[Refund] = []
    payouts: list[PayoutCheck] = []
    now = timezone.now()
    for slip, named, payout in zip(slips, found, settlements, strict=True):
        if slip.reference in batch.known:
            run.result.already_imported += 1
            continue
        batch.known.add(slip.reference)
        if rows is None:
            rows = _Rows(run.statement_row(), run.header.iban)
        allocation = _allocation(slip, named)
        how: str
        if payout:
            how = Payment.Match.SETTLEMENT
            # Checked against the provider's settlement after the import (payouts.py).
            payouts.append(
                PayoutCheck(
                    payment_id=rows.add(slip, how, slip.amount_cents),
                    reference=payout,
                    paid_out_cents=slip.amount_cents,
                )
            )
        elif allocation is None:
            proposal = _proposal(batch, slip)
            how = Payment.Match.PROPOSED if proposal is not None else Payment.Match.NONE
            rows.add(slip, how, slip.amount_cents, proposed=proposal)
        elif not allocation[1]:
            # Several invoices named, an amount that is not their open sum: finance.
            how = Payment.Match.NONE
            run.result.unallocated += 1
            rows.add(slip, how, slip.amount_cents)
        else:
            how, shares = allocation
            for n, (invoice, amount) in enumerate(shares, 1):
                # The first share keeps the entry's reference (so a second import finds
                # it); each further one adds "+n".
                reference = slip.reference if n == 1 else f"{slip.reference}+{n}"
                payment = rows.add(slip, how, amount, invoice=invoice, reference=reference)
                batch.touch(invoice)
                paid_now, excess = invoice.take_payment(amount, at=now)
                if paid_now:
                    settled.append(invoice)
                if excess > 0:
                    refunds.append(
                        Refund(
                            invoice=invoice,
                            payment_id=payment,
                            amount_cents=excess,
                            proposed_by=run.imported_by,
                        )
                    )
        run.new += 1
        run.result.new += 1
        run.result.matches[how] = run.result.matches.get(how, 0) + 1
    if rows is not None:
        rows.write()
    PayoutCheck.objects.bulk_create(payouts)
    _save_paid(list(batch.touched.values()))
    invoices_paid(settled)
    Refund.objects.bulk_create(refunds, batch_size=500)


class _References:
    """The reference of each entry of one file, the same in every export of it."""

    def __init__(self) -> None:
        self._seen: Counter[tuple[str, str]] = Counter()

    def of(self, account: str, prepared: Prepared) -> str:
        base = prepared.entry.bank_reference or prepared.fingerprint
        self._seen[account, base] += 1
        n = self._seen[account, base]
        return base if n == 1 else f"{base}#{n}"


def _statements(
    path: Path, ours: list[str], result: ImportResult
) -> Iterator[tuple[StatementHeader, Prepared | None]]:
    """Each statement of ours with its entries (None once, for a statement without
    any); other accounts' statements are read (and validated) but skipped."""
    header: StatementHeader | None = None
    mine = False
    for item in read_statement_ahead(path):
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
    for header, item in _statements(path, ours, result):
        if run is None or run.header is not header:
            if run is not None:
                _import_batch(run, pending)
                pending = []
                _close(run)
            run = _Run(header=header, sha256=sha256, imported_by=user, result=result)
        if item is None:
            continue
        entry = item.entry
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
        slips = _slips(item, references.of(header.iban, item))
        if len(slips) == 1 and len(entry.parts) > 1:
            result.unsplit_batches += 1
        pending += slips
        if len(pending) >= BATCH_SIZE:
            _import_batch(run, pending)
            pending = []
            collect_young()  # what a batch left in a cycle, if anything
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


@contextlib.contextmanager
def _page_cache(using: str) -> Iterator[None]:
    """SQLite: IMPORT_PAGE_CACHE_KIB of page cache on `using`'s connection for the
    duration (a setting of this connection only, not of the file)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{int(IMPORT_PAGE_CACHE_KIB)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


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
        with (
            _page_cache(router.db_for_write(Payment)),
            transaction.atomic(),
            keys.key_scope(),
            cycle_collector_paused(),
        ):
            for file in files:
                _import_file(file, ours, result, imported_by)
            if result.statements == 0:
                raise StatementRefused(
                    _("er is geen afschrift van onze rekening in; overgeslagen: %(accounts)s"),
                    accounts=", ".join(result.skipped_accounts) or "-",
                )
    return result
