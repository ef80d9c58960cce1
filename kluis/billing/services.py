"""Every write of billing: issuing invoices and credit notes.

Numbers are gapless per series: the counter row of the series is locked and moved
in the same transaction that writes the invoice, so a rolled-back issue gives its
number back and two concurrent issues queue on the lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext, override
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.billing import emails, sepa
from kluis.billing.domains import line_domains
from kluis.billing.models import (
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceLineDomain,
    OnlinePayment,
    OssEvidence,
    Payment,
    Refund,
    RefundExport,
)
from kluis.billing.reference import new_reference
from kluis.billing.settlement import invoice_paid
from kluis.billing.vat import VatDecision, vat_amount, vat_decide
from kluis.policy.enforce import Actor
from kluis.shop.domains import domains_reveal
from kluis.shop.models import DOMAIN_MARK, Order, OrderLine, Period, VatCheck
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.fields import SealedValue, sealed_fields
from kluis.vault.keys import shred

logger = logging.getLogger(__name__)
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
    # The first and last day of the subscription period the line covers, if any.
    period: tuple[dt.date, dt.date] | None = None
    # The domain name a description with DOMAIN_MARK names; sealed beside the line.
    domain: str | None = None


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
    vat_cents: int | None = None,
    mail: bool = True,
) -> Invoice:
    """`vat_cents` overrides the VAT worked out from the net: for the credit note that
    completes an invoice's credit (credit_note_issue). `mail`: queue the invoice's own
    mail with its PDF (off where the caller's mail carries the PDF instead)."""
    sequence = _allocate(series)
    net = sum(line.unit_cents * line.quantity for line in lines)
    # The supply date follows the periods the lines cover: from the first day of the
    # earliest to the last day of the latest (art. 35a(1)(f) Wet OB).
    periods = [line.period for line in lines if line.period is not None]
    supply_date = min(p[0] for p in periods) if periods else issue_date
    supply_until = max(p[1] for p in periods) if periods else None
    vat = vat_amount(net, decision.rate_bp) if vat_cents is None else vat_cents
    invoice = Invoice(
        kind=kind,
        series=series,
        sequence=sequence,
        number=f"{series}{issue_date.year}-{sequence:06d}",
        customer=customer,
        order=order,
        corrects=corrects,
        issue_date=issue_date,
        supply_date=supply_date,
        supply_until=supply_until,
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
    if decision.scheme == Invoice.VatScheme.OSS:
        OssEvidence(
            invoice=invoice,
            customer=customer,
            country=customer.country,
            street=address.street or None,
            postcode=address.postcode or None,
            city=address.city or None,
        ).save(force_insert=True)
    made = InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_cents=line.unit_cents,
            net_cents=line.unit_cents * line.quantity,
            period_start=line.period[0] if line.period else None,
            period_end=line.period[1] if line.period else None,
        )
        for position, line in enumerate(lines)
    )
    for row, line in zip(made, lines, strict=True):
        if DOMAIN_MARK in line.description:
            if not line.domain:
                raise BillingError("no_domain")
            InvoiceLineDomain(
                line=row, customer=customer, fiscal_year=issue_date.year, name=line.domain
            ).save(force_insert=True)
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
    if mail and customer.email is not None:
        emails.mail_invoice(invoice)
    return invoice


def _order_line_text(line: OrderLine) -> str:
    """An order line's text; a subscription's first period starts on the day of delivery,
    which is not known yet when the order is invoiced, so the line says so."""
    return gettext("%(name)s, eerste periode (%(period)s) vanaf de oplevering") % {
        "name": line.description[:200],
        "period": gettext("1 maand") if line.period == Period.MONTH else gettext("1 jaar"),
    }


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
    order_lines = list(locked.lines.all())
    domains = domains_reveal(order_lines, purpose="invoicing", actor=BILLING)
    with override(locked.language if locked.language in ("nl", "en") else "nl"):
        lines = [
            LineInput(_order_line_text(line), line.price_cents, domain=domain)
            for line, domain in zip(order_lines, domains, strict=True)
        ]
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
    *,
    invoice: Invoice,
    issued_by: User | None,
    issue_date: dt.date | None = None,
    lines: list[LineInput] | None = None,
) -> Invoice:
    """Cancel an issued invoice with a credit note: in full (the same lines, negated),
    or in part with the given `lines` (negative amounts, net), under its VAT decision.

    An invoice may carry several partial credit notes, never more than its total: the
    invoice's row is locked while the credit notes it already has are added up, so two
    at once queue and the second sees the first. A full credit is for an invoice that
    nothing credited yet; after it, nothing more.
    """
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.kind != Invoice.Kind.INVOICE:
        raise BillingError("not_an_invoice")
    earlier = Invoice.objects.filter(corrects=locked).aggregate(
        net=Coalesce(Sum("net_cents"), 0), total=Coalesce(Sum("total_cents"), 0)
    )
    if locked.credited_at is not None or (lines is None and earlier["total"] != 0):
        raise BillingError("already_credited")
    last_part_vat: int | None = None
    if lines is not None and lines and all(line.unit_cents < 0 for line in lines):
        net = sum(line.unit_cents * line.quantity for line in lines)
        vat = vat_amount(net, locked.vat_rate_bp)
        if earlier["net"] + net == -locked.net_cents:
            # The part that completes the credit takes off the VAT that is left: each
            # part's VAT rounded on its own could pass the invoice's by a cent.
            vat = last_part_vat = -locked.vat_cents - (earlier["total"] - earlier["net"])
        total = net + vat
        # Both negative: what is credited now and before may not pass the invoice's own.
        if (
            earlier["net"] + net < -locked.net_cents
            or earlier["total"] + total < -locked.total_cents
        ):
            raise BillingError("over_credited")
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
    if lines is None:
        # Cancelled in full: a payment for it from now on is proposed for refund.
        locked.credited_at = timezone.now()
        locked.save(update_fields=["credited_at"])
        copied = list(locked.lines.all())
        domains = line_domains(copied, purpose="invoicing", actor=BILLING)
        lines = [
            LineInput(
                line.description,
                -line.unit_cents,
                line.quantity,
                (line.period_start, line.period_end)
                if line.period_start and line.period_end
                else None,
                domain=domain,
            )
            for line, domain in zip(copied, domains, strict=True)
        ]
    elif not lines or any(line.unit_cents >= 0 for line in lines):
        raise BillingError("no_lines")
    note = _issue(
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
        vat_cents=last_part_vat,
    )
    # What is owed from now on: the total less every credit note (kept on the row so
    # payability, matching, reminders and the overview read one column).
    locked.credited_cents = -(earlier["total"] + note.total_cents)
    fields = ["credited_cents"]
    if locked.credited_at is None and locked.paid_cents and locked.open_cents <= 0:
        # What was paid already covers what is left: settled by this credit note, so
        # reminders close and a hand-over ends (the order is not moved by a credit).
        locked.paid_at = timezone.now()
        fields.append("paid_at")
    locked.save(update_fields=fields)
    from kluis.billing.dunning import dunning_invoice_credited, dunning_invoices_paid

    if "paid_at" in fields:
        dunning_invoices_paid([locked])
    else:
        dunning_invoice_credited(locked, issued_by)
    invoice.credited_cents = locked.credited_cents
    return note


@transaction.atomic
def invoice_issue_for_lines(
    *,
    customer: Customer,
    lines: list[LineInput],
    evidence: VatCheck | None,
    issued_by: User | None,
    issue_date: dt.date | None = None,
    mail: bool = True,
) -> Invoice:
    """An invoice that belongs to no order (renewals): VAT decided as for an order.

    `evidence` is the VIES answer that may allow reverse charge; vat_decide accepts it
    only when it is valid and of the customer's country. `mail=False`: no invoice mail
    of its own, for a caller whose mail carries the invoice (`emails.invoice_attachment`).
    """
    if not lines:
        raise BillingError("no_lines")
    day = issue_date or timezone.localdate()
    return _issue(
        kind=Invoice.Kind.INVOICE,
        series=settings.KLUIS_INVOICE_SERIES,
        customer=customer,
        address=_billing_address_of(customer),
        decision=vat_decide(country=customer.country, evidence=evidence, day=day),
        lines=lines,
        language=customer.language,
        issued_by=issued_by,
        issue_date=day,
        mail=mail,
    )


@transaction.atomic
def credit_refunds_propose(*, invoice: Invoice) -> list[Refund]:
    """Propose paying back what was paid on an invoice that a credit note cancelled.

    Proposed by kluis (no proposer yet): finance takes each up and a second finance
    user approves it, as for an overpayment.
    """
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if not Invoice.objects.filter(corrects=locked).exists():
        raise BillingError("not_credited")
    made = []
    for payment in locked.payments.all():
        proposed = taken_from(payment)
        if payment.amount_cents > proposed:
            made.append(
                Refund.objects.create(
                    invoice=locked, payment=payment, amount_cents=payment.amount_cents - proposed
                )
            )
    return made


def taken_from(payment: Payment) -> int:
    """What of `payment` is proposed or paid back, or set off against another invoice."""
    refunds = payment.refunds.exclude(status__in=Refund.NOT_PAID_BACK)
    return sum(r.amount_cents for r in refunds) + sum(
        s.amount_cents for s in payment.set_offs.all()
    )


# --- bank statements ------------------------------------------------------------------
# Importing a statement is kluis/billing/statements.py; here finance links by hand.


def apply_payment(invoice: Invoice, payment: Payment, proposer: User | None) -> None:
    """Add a payment to its invoice; what is paid too much becomes a refund proposal.

    The invoice's row is locked first, so a payment finance links, one an online
    payment brings and one a statement import brings queue on it: each is counted
    once, the one that completes the total settles the invoice, and the rest is over.
    """
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    settled, excess = locked.take_payment(payment.amount_cents, at=timezone.now())
    locked.save(update_fields=["paid_cents", "paid_at"])
    if settled:
        invoice_paid(locked)
    if excess > 0:
        Refund.objects.create(
            invoice=locked, payment=payment, amount_cents=excess, proposed_by=proposer
        )


@transaction.atomic
def payment_link(*, payment: Payment, invoice: Invoice, by: User) -> Payment:
    """Finance decides a proposal (or links an unmatched payment) to an invoice."""
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    if locked.invoice_id is not None:
        raise BillingError("already_linked")
    if invoice.kind != Invoice.Kind.INVOICE:
        raise BillingError("not_an_invoice")
    # Until now the payment was a data subject of its own; from here it is the
    # customer's, so it is sealed again under their key (and is in their access
    # export and under their retention), and the payment's own key is shredded.
    actor = by.actor()
    sealed = {}
    own_scopes = []
    for name in (f.name for f in sealed_fields(Payment)):
        value = getattr(locked, name)
        if value is not None:
            sealed[name] = _reveal(value, "payment_matching", actor)
            own_scopes.append(value.scope)
    locked.subject = invoice.customer_id
    for name, plain in sealed.items():
        setattr(locked, name, plain)
    locked.invoice = invoice
    locked.proposed_invoice = None
    locked.match = Payment.Match.STAFF
    locked.save(update_fields=["invoice", "proposed_invoice", "match", "subject", *sealed])
    if own_scopes and own_scopes[0].subject != invoice.customer_id:
        scopes = list(set(own_scopes))
        transaction.on_commit(lambda: shred(scopes))
    apply_payment(invoice, locked, by)
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
    locked = Refund.objects.select_for_update().select_related("payment").get(pk=refund.pk)
    if locked.status != Refund.Status.PROPOSED or locked.proposed_by_id is not None:
        raise BillingError("already_proposed")
    if locked.payment.iban is None and locked.payment.statement_id is not None:
        # A bank payment without the payer's account: proposed only with the account
        # finance enters (refund_payee_set), never blind.
        raise BillingError("iban_missing")
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
    if (
        approve
        and Payment.objects.filter(
            pk=locked.payment_id, iban__isnull=True, statement__isnull=False
        ).exists()
    ):
        raise BillingError("iban_missing")  # a bank payment: approve its account too
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
        try:
            emails.mail_refund_approved(locked)
        except RevealRefused:
            # The customer restricted processing (art. 18 GDPR) and refunds are no purpose
            # that goes on during it: the decision rolls back with this transaction.
            raise BillingError("restricted") from None
        if OnlinePayment.objects.filter(payment_id=locked.payment_id).exists():
            # An online payment is refunded through the provider's refund API, once
            # this approval is committed; the worker sends any the provider refused.
            refund_id = locked.pk
            transaction.on_commit(lambda: _send_to_provider(refund_id))
    return locked


def _send_to_provider(refund_id: int) -> None:
    from kluis.billing import mollie, online

    try:
        online.provider_refund_send(refund_id)
    except mollie.ProviderError:
        logger.exception("refund %s could not be sent to the payment provider", refund_id)


@transaction.atomic
def refund_payee_set(*, refund: Refund, by: User, iban: str, name: str = "") -> Refund:
    """Finance enters the account to pay a refund back to, when the statement gave none
    (or one that cannot be paid to). Checked with schwifty; the one who enters it
    becomes the refund's proposer, so a second finance user approves it, account and all.
    """
    locked = (
        Refund.objects.select_for_update().select_related("invoice", "payment").get(pk=refund.pk)
    )
    if locked.status not in (Refund.Status.PROPOSED, Refund.Status.APPROVED):
        raise BillingError("not_proposed")
    try:
        account = str(IBAN(iban).compact)
    except SchwiftyException:
        raise BillingError("iban_invalid") from None
    # Held after a chargeback: proposed anew for the part the money still covers.
    fits = locked.held_fits_cents if locked.held_reason == Refund.CHARGEBACK else None
    if fits is not None and fits <= 0:
        raise BillingError("nothing_fits")
    payment = Payment.objects.select_for_update().get(pk=locked.payment_id)
    payment.iban = account
    fields = ["iban"]
    if name.strip():
        payment.holder = " ".join(name.split())[:70]
        fields.append("holder")
    elif payment.holder is None:
        raise BillingError("name_missing")
    payment.save(update_fields=fields)
    locked.status = Refund.Status.PROPOSED
    locked.proposed_by = by
    locked.approved_by = None
    locked.decided_at = None
    locked.payee_entered_by = by
    locked.held_reason = ""
    locked.held_fits_cents = None
    before = locked.amount_cents
    if fits is not None and fits < before:
        locked.amount_cents = fits
    locked.save(
        update_fields=[
            "status",
            "proposed_by",
            "approved_by",
            "decided_at",
            "payee_entered_by",
            "held_reason",
            "held_fits_cents",
            "amount_cents",
        ]
    )
    data: dict[str, object] = {"refund": locked.pk, "invoice": locked.invoice.number}
    if locked.amount_cents != before:
        data.update(from_cents=before, to_cents=locked.amount_cents)
    audit_append(
        action="billing.refund_payee_entered",
        actor=by.actor().ref,
        subject=locked.invoice.customer_id,
        data=data,
    )
    return locked


@transaction.atomic
def refund_reject_held(*, refund: Refund, by: User, reason: str) -> Refund:
    """Finance rejects an approved refund that is held (after a chargeback, or left out
    of the payment file for its account): it leaves the held list and is never paid.

    Not paying is what a hold already does, so no second user is needed; the reason is
    required and kept, and it is audited (`billing.refund_rejected`)."""
    reason = " ".join(reason.split())
    if not reason:
        raise BillingError("reason_missing")
    locked = Refund.objects.select_for_update().select_related("invoice").get(pk=refund.pk)
    if locked.status != Refund.Status.APPROVED or not locked.held_reason:
        raise BillingError("not_held")
    locked.status = Refund.Status.REJECTED
    locked.decided_at = timezone.now()
    locked.rejected_by = by
    locked.rejected_reason = reason[:300]
    locked.save(update_fields=["status", "decided_at", "rejected_by", "rejected_reason"])
    audit_append(
        action="billing.refund_rejected",
        actor=by.actor().ref,
        subject=locked.invoice.customer_id,
        data={
            "refund": locked.pk,
            "invoice": locked.invoice.number,
            "cents": locked.amount_cents,
            "status": Refund.Status.APPROVED,
            "held": locked.held_reason,
            "reason": locked.rejected_reason,
        },
    )
    return locked


# Why an approved refund was left out of a payment file; finance sees it on the page.
HELD_REASONS = ("iban_missing", "iban_invalid", "name_missing")


def _payee(refund: Refund, actor: Actor) -> tuple[str, str, str]:
    """The account and name to pay `refund` back to, or the reason it cannot be paid."""
    payment = refund.payment
    if payment.iban is None:
        return "", "", "iban_missing"
    iban = _reveal(payment.iban, "refunds", actor)
    try:
        iban = str(IBAN(iban).compact)
    except SchwiftyException:
        return "", "", "iban_invalid"
    name = _reveal(payment.holder, "refunds", actor) if payment.holder is not None else ""
    if not name.strip():
        return "", "", "name_missing"
    return iban, name, ""


def refunds_export(*, by: User) -> tuple[RefundExport, bytes]:
    """A pain.001.001.03 file of every approved refund that can be paid, validated
    against the schema. A refund that cannot be paid (no account, a bad account, no
    name) is held back with its reason, and never keeps the others out of the file.
    """
    with transaction.atomic():
        refunds = list(
            Refund.objects.select_for_update(of=("self",))
            .filter(status=Refund.Status.APPROVED)
            # Held after a chargeback took the money back (kluis/billing/chargebacks.py).
            .exclude(held_reason=Refund.CHARGEBACK)
            # Refunds of online payments go back through the provider (a subquery, not an
            # outer join: PostgreSQL locks no nullable side of a join).
            .exclude(payment__in=OnlinePayment.objects.exclude(payment=None).values("payment_id"))
            .select_related("payment", "invoice")
            .order_by("pk")
        )
        actor = by.actor()
        ready: list[Refund] = []
        transfers: list[sepa.Transfer] = []
        held: list[Refund] = []
        for refund in refunds:
            iban, name, reason = _payee(refund, actor)
            if reason:
                refund.held_reason = reason
                held.append(refund)
                continue
            refund.held_reason = ""
            ready.append(refund)
            transfers.append(_transfer(refund, iban, name))
        Refund.objects.bulk_update(held, ["held_reason"])
        if ready:
            return _export(by, ready, transfers)
    raise BillingError("all_held" if held else "nothing_to_export")


def _transfer(refund: Refund, iban: str, name: str) -> sepa.Transfer:
    return sepa.Transfer(
        end_to_end_id=f"R{refund.pk}",
        amount_cents=refund.amount_cents,
        iban=iban,
        name=name,
        remittance=f"Terugbetaling {refund.invoice.number}",
    )


def _export(
    by: User, refunds: list[Refund], transfers: list[sepa.Transfer]
) -> tuple[RefundExport, bytes]:
    now = timezone.now()
    message_id = f"KLUIS-REFUND-{now:%Y%m%d%H%M%S}-{RefundExport.objects.count() + 1}"
    header = sepa.header_now(message_id, now)
    try:
        xml = sepa.pain001(header=header, transfers=transfers)
    except sepa.SepaError:
        raise BillingError("file_invalid") from None
    export = RefundExport.objects.create(
        message_id=message_id,
        sha256=hashlib.sha256(xml).hexdigest(),
        count=len(refunds),
        total_cents=sum(r.amount_cents for r in refunds),
        created_at=now,
        created_by=by,
        execution_date=header.execution,
        debtor_iban=header.debtor_iban,
        debtor_name=header.debtor_name,
    )
    Refund.objects.filter(pk__in=[r.pk for r in refunds]).update(
        status=Refund.Status.EXPORTED, export=export, held_reason=""
    )
    audit_append(
        action="billing.refunds_exported",
        actor=by.actor().ref,
        data={"export": message_id, "count": export.count, "total_cents": export.total_cents},
    )
    return export, xml


def refunds_export_again(*, export: RefundExport, by: User) -> bytes:
    """The same pain.001 file again, byte for byte, for finance (audited).

    Rebuilt from what the export kept and the refunds' sealed accounts, read again for
    the refunds purpose; the result must have the hash the first file had. A file
    whose account or holder was erased since, or made before its header was kept,
    cannot be made again (`not_rebuildable`): nothing half is handed out.
    """
    if export.execution_date is None or not export.debtor_iban:
        raise BillingError("not_rebuildable")
    actor = by.actor()
    transfers = []
    for refund in export.refunds.select_related("payment", "invoice").order_by("pk"):
        try:
            iban, name, reason = _payee(refund, actor)
        except KeyShredded:
            reason = "erased"
        if reason:
            raise BillingError("not_rebuildable")
        transfers.append(_transfer(refund, iban, name))
    header = sepa.Header(
        message_id=export.message_id,
        created=export.created_at,
        execution=export.execution_date,
        debtor_iban=export.debtor_iban,
        debtor_name=export.debtor_name,
    )
    try:
        xml = sepa.pain001(header=header, transfers=transfers)
    except sepa.SepaError:
        raise BillingError("not_rebuildable") from None
    if hashlib.sha256(xml).hexdigest() != export.sha256:
        raise BillingError("not_rebuildable")
    audit_append(
        action="billing.refunds_export_downloaded",
        actor=actor.ref,
        data={"export": export.message_id, "sha256": export.sha256},
    )
    return xml
