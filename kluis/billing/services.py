"""Every write of billing: issuing invoices and credit notes.

Numbers are gapless per series: the counter row of the series is locked and moved
in the same transaction that writes the invoice, so a rolled-back issue gives its
number back and two concurrent issues queue on the lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.billing import emails, sepa
from kluis.billing.camt import Entry, StatementRefused, read_statement
from kluis.billing.models import (
    BankStatement,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    Payment,
    Refund,
    RefundExport,
)
from kluis.billing.reference import is_valid, new_reference
from kluis.billing.settlement import invoice_paid
from kluis.billing.vat import VatDecision, vat_amount, vat_decide
from kluis.policy.enforce import Actor
from kluis.shop.models import Order, VatCheck
from kluis.vault.fields import BlindIndexField, SealedValue

BILLING = Actor.system("billing")
CREDIT_SERIES = "C"


class BillingError(Exception):
    """A business rule refused; `code` says which, for the view's message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class LineInput:
    description: str
    unit_cents: int
    quantity: int = 1


@dataclass(frozen=True)
class BillingAddress:
    name: str
    company: str
    street: str
    postcode: str
    city: str
    vat_number: str


def _allocate(series: str) -> int:
    """The next number of `series`; the caller's transaction holds the counter's lock."""
    if not InvoiceCounter.objects.filter(series=series).exists():
        try:
            with transaction.atomic():
                InvoiceCounter.objects.create(series=series)
        except IntegrityError:
            pass  # another issue created it first; its row is what we lock now
    counter = InvoiceCounter.objects.select_for_update().get(series=series)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


def _open(value: SealedValue | None, purpose: str = "invoicing") -> str:
    return _reveal(value, purpose, BILLING)


def _reveal(value: SealedValue | None, purpose: str, actor: Actor) -> str:
    return value.reveal(purpose=purpose, actor=actor) if value is not None else ""


def _billing_address_of(customer: Customer) -> BillingAddress:
    return BillingAddress(
        name=_open(customer.name),
        company=_open(customer.company_name),
        street=_open(customer.address_street),
        postcode=_open(customer.address_postcode),
        city=_open(customer.address_city),
        vat_number=_open(customer.vat_number),
    )


def _vies_evidence(order: Order) -> VatCheck | None:
    last = order.vat_checks.order_by("-checked_at").first()
    return last if last is not None and last.result == VatCheck.Result.VALID else None


def _issue(
    *,
    kind: str,
    series: str,
    customer: Customer,
    address: BillingAddress,
    decision: VatDecision,
    lines: list[LineInput],
    language: str,
    issued_by: User | None,
    issue_date: dt.date,
    order: Order | None = None,
    corrects: Invoice | None = None,
) -> Invoice:
    sequence = _allocate(series)
    net = sum(line.unit_cents * line.quantity for line in lines)
    vat = vat_amount(net, decision.rate_bp)
    invoice = Invoice(
        kind=kind,
        series=series,
        sequence=sequence,
        number=f"{series}{issue_date.year}-{sequence:06d}",
        customer=customer,
        order=order,
        corrects=corrects,
        issue_date=issue_date,
        supply_date=issue_date,
        due_date=issue_date + dt.timedelta(days=settings.KLUIS_PAYMENT_TERM_DAYS),
        language=language,
        country=customer.country,
        vat_scheme=decision.scheme,
        vat_country=decision.country,
        vat_rate_bp=decision.rate_bp,
        vat_check=decision.evidence,
        net_cents=net,
        vat_cents=vat,
        total_cents=net + vat,
        payment_reference=new_reference(),
        issued_by=issued_by,
    )
    for name, value in (
        ("billing_name", address.name),
        ("billing_company", address.company),
        ("billing_street", address.street),
        ("billing_postcode", address.postcode),
        ("billing_city", address.city),
    ):
        if value:
            setattr(invoice, name, value)
    # The customer's VAT number belongs on the invoice only when it carries the VAT
    # shift (art. 35a(1)(d) Wet OB); otherwise it is not needed there (R17).
    if decision.evidence is not None and address.vat_number:
        invoice.billing_vat_number = address.vat_number
    invoice.save(force_insert=True)
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_cents=line.unit_cents,
            net_cents=line.unit_cents * line.quantity,
        )
        for position, line in enumerate(lines)
    )
    audit_append(
        action=f"billing.{kind}_issued",
        actor=issued_by.actor().ref if issued_by else BILLING.ref,
        subject=customer.id,
        data={
            "invoice": str(invoice.pk),
            "number": invoice.number,
            "total_cents": invoice.total_cents,
            "vat_scheme": invoice.vat_scheme,
        },
    )
    if customer.email is not None:
        emails.mail_invoice(invoice)
    return invoice


@transaction.atomic
def invoice_issue(
    *, order: Order, issued_by: User | None, issue_date: dt.date | None = None
) -> Invoice:
    """The invoice of an order; issuing it again returns the same invoice."""
    locked = Order.objects.select_for_update().select_related("customer").get(pk=order.pk)
    existing = Invoice.objects.filter(order=locked).first()
    if existing is not None:
        return existing
    if locked.status == Order.Status.CANCELLED:
        raise BillingError("cancelled")
    if locked.waits_for_vies:
        raise BillingError("waits_for_vies")
    customer = locked.customer
    day = issue_date or timezone.localdate()
    decision = vat_decide(country=customer.country, evidence=_vies_evidence(locked), day=day)
    lines = [LineInput(line.description, line.price_cents) for line in locked.lines.all()]
    if not lines:
        raise BillingError("no_lines")
    return _issue(
        kind=Invoice.Kind.INVOICE,
        series=settings.KLUIS_INVOICE_SERIES,
        customer=customer,
        address=_billing_address_of(customer),
        decision=decision,
        lines=lines,
        language=locked.language,
        issued_by=issued_by,
        issue_date=day,
        order=locked,
    )


@transaction.atomic
def credit_note_issue(
    *, invoice: Invoice, issued_by: User, issue_date: dt.date | None = None
) -> Invoice:
    """Cancel an issued invoice in full with a credit note: the same lines, negated."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.kind != Invoice.Kind.INVOICE:
        raise BillingError("not_an_invoice")
    if Invoice.objects.filter(corrects=locked).exists():
        raise BillingError("already_credited")
    address = BillingAddress(
        name=_open(locked.billing_name),
        company=_open(locked.billing_company),
        street=_open(locked.billing_street),
        postcode=_open(locked.billing_postcode),
        city=_open(locked.billing_city),
        vat_number=_open(locked.billing_vat_number),
    )
    decision = VatDecision(
        locked.vat_scheme, locked.vat_country, locked.vat_rate_bp, locked.vat_check
    )
    lines = [
        LineInput(line.description, -line.unit_cents, line.quantity) for line in locked.lines.all()
    ]
    return _issue(
        kind=Invoice.Kind.CREDIT_NOTE,
        series=CREDIT_SERIES,
        customer=locked.customer,
        address=address,
        decision=decision,
        lines=lines,
        language=locked.language,
        issued_by=issued_by,
        issue_date=issue_date or timezone.localdate(),
        corrects=locked,
    )


# --- bank statements ------------------------------------------------------------------

INVOICE_NUMBER = re.compile(r"\b([A-Z]{1,10}\d{4}-\d{6})\b")


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


def _open_invoice_by_amount_and_name(entry: Entry) -> Invoice | None:
    if not entry.holder:
        return None
    index = Customer._meta.get_field("name_index")
    assert isinstance(index, BlindIndexField)
    lookup = index.lookup_value(entry.holder)
    candidates = list(
        Invoice.objects.filter(customer__name_index=lookup, kind=Invoice.Kind.INVOICE).filter(
            total_cents=F("paid_cents") + entry.amount_cents
        )[:2]
    )
    return candidates[0] if len(candidates) == 1 else None


def _match(entry: Entry) -> tuple[str, Invoice | None]:
    text = entry.unstructured
    reference = "".join(entry.structured_reference.split())
    if reference and is_valid(reference):
        invoice = Invoice.objects.filter(
            payment_reference=reference, kind=Invoice.Kind.INVOICE
        ).first()
        if invoice is not None:
            return Payment.Match.REFERENCE, invoice
    elif reference:
        text = f"{text} {entry.structured_reference}"  # a bad check digit: just text
    for number in INVOICE_NUMBER.findall(text.upper()):
        invoice = Invoice.objects.filter(number=number, kind=Invoice.Kind.INVOICE).first()
        if invoice is not None:
            return Payment.Match.INVOICE_NUMBER, invoice
    proposal = _open_invoice_by_amount_and_name(entry)
    if proposal is not None:
        return Payment.Match.PROPOSED, proposal
    return Payment.Match.NONE, None


def _apply(invoice: Invoice, payment: Payment, proposer: User | None) -> None:
    """Add a payment to its invoice; what is paid too much becomes a refund proposal."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    before = max(locked.paid_cents - locked.total_cents, 0)
    locked.paid_cents += payment.amount_cents
    settled = locked.paid_cents >= locked.total_cents and locked.paid_at is None
    if settled:
        locked.paid_at = timezone.now()
    locked.save(update_fields=["paid_cents", "paid_at"])
    if settled:
        invoice_paid(locked)
    excess = max(locked.paid_cents - locked.total_cents, 0) - before
    if excess > 0:
        Refund.objects.create(
            invoice=locked, payment=payment, amount_cents=excess, proposed_by=proposer
        )


def _payment_record(statement: BankStatement, entry: Entry, proposer: User | None) -> Payment:
    how, invoice = _match(entry)
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
    payment.save(force_insert=True)
    if decided and invoice is not None:
        _apply(invoice, payment, proposer)
    return payment


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
    result = ImportResult()
    with transaction.atomic():
        statement: BankStatement | None = None
        for entry in entries:
            result.entries += 1
            if entry.currency != "EUR":
                raise StatementRefused(f"entry {entry.reference} is in {entry.currency}, not EUR")
            if entry.amount_cents <= 0:
                raise StatementRefused(f"entry {entry.reference} has a zero or negative amount")
            if not entry.credit or not entry.booked:
                result.not_credits += 1
                continue
            if Payment.objects.filter(entry_reference=entry.reference).exists():
                result.already_imported += 1
                continue
            if statement is None:
                statement = BankStatement.objects.create(
                    version=header.version,
                    message_id=header.message_id,
                    statement_id=header.statement_id,
                    sha256=_file_sha256(path),
                    imported_by=imported_by,
                )
            payment = _payment_record(statement, entry, imported_by)
            result.new += 1
            result.matches[payment.match] = result.matches.get(payment.match, 0) + 1
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


@transaction.atomic
def payment_link(*, payment: Payment, invoice: Invoice, by: User) -> Payment:
    """Finance decides a proposal (or links an unmatched payment) to an invoice."""
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    if locked.invoice_id is not None:
        raise BillingError("already_linked")
    if invoice.kind != Invoice.Kind.INVOICE:
        raise BillingError("not_an_invoice")
    locked.invoice = invoice
    locked.proposed_invoice = None
    locked.match = Payment.Match.STAFF
    locked.save(update_fields=["invoice", "proposed_invoice", "match"])
    _apply(invoice, locked, by)
    audit_append(
        action="billing.payment_linked",
        actor=by.actor().ref,
        subject=invoice.customer_id,
        data={"payment": str(locked.pk), "invoice": invoice.number},
    )
    return locked


# --- refunds ----------------------------------------------------------------------------


@transaction.atomic
def refund_propose(*, refund: Refund, by: User) -> Refund:
    """A finance user takes up a refund the system proposed (a command-line import)."""
    locked = Refund.objects.select_for_update().get(pk=refund.pk)
    if locked.status != Refund.Status.PROPOSED or locked.proposed_by_id is not None:
        raise BillingError("already_proposed")
    locked.proposed_by = by
    locked.save(update_fields=["proposed_by"])
    return locked


@transaction.atomic
def refund_decide(*, refund: Refund, by: User, approve: bool) -> Refund:
    """The second finance user approves or rejects; never the one who proposed it."""
    locked = Refund.objects.select_for_update().select_related("invoice").get(pk=refund.pk)
    if locked.status != Refund.Status.PROPOSED:
        raise BillingError("not_proposed")
    if locked.proposed_by_id is None:
        raise BillingError("no_proposer")
    if locked.proposed_by_id == by.pk:
        raise BillingError("four_eyes")
    locked.status = Refund.Status.APPROVED if approve else Refund.Status.REJECTED
    locked.approved_by = by if approve else None
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "approved_by", "decided_at"])
    audit_append(
        action=f"billing.refund_{locked.status}",
        actor=by.actor().ref,
        subject=locked.invoice.customer_id,
        data={"refund": locked.pk, "invoice": locked.invoice.number, "cents": locked.amount_cents},
    )
    if approve:
        emails.mail_refund_approved(locked)
    return locked


@transaction.atomic
def refunds_export(*, by: User) -> tuple[RefundExport, bytes]:
    """A pain.001.001.03 file of every approved refund, validated against the schema."""
    refunds = list(
        Refund.objects.select_for_update()
        .filter(status=Refund.Status.APPROVED)
        .select_related("payment", "invoice")
    )
    if not refunds:
        raise BillingError("nothing_to_export")
    actor = by.actor()
    transfers = [
        sepa.Transfer(
            end_to_end_id=f"R{refund.pk}",
            amount_cents=refund.amount_cents,
            iban=_reveal(refund.payment.iban, "refunds", actor),
            name=_reveal(refund.payment.holder, "refunds", actor),
            remittance=f"Terugbetaling {refund.invoice.number}",
        )
        for refund in refunds
    ]
    message_id = f"KLUIS-REFUND-{timezone.now():%Y%m%d%H%M%S}-{RefundExport.objects.count() + 1}"
    xml = sepa.pain001(message_id=message_id, transfers=transfers)
    export = RefundExport.objects.create(
        message_id=message_id,
        sha256=hashlib.sha256(xml).hexdigest(),
        count=len(refunds),
        total_cents=sum(r.amount_cents for r in refunds),
        created_by=by,
    )
    Refund.objects.filter(pk__in=[r.pk for r in refunds]).update(
        status=Refund.Status.EXPORTED, export=export
    )
    audit_append(
        action="billing.refunds_exported",
        actor=by.actor().ref,
        data={"export": message_id, "count": export.count, "total_cents": export.total_cents},
    )
    return export, xml
