"""Billing's mails, through the outbox: each invoice (with its PDF), approved refunds,
reminders and the statutory letter (with its PDF).

The invoice PDF is made again at delivery from the invoice (deterministic), so the
outbox holds only the invoice's id, never a copy of the billing data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kluis.billing.models import Chargeback, Invoice, Refund, Reminder
from kluis.billing.payee import payee
from kluis.billing.pdf import euro, invoice_pdf
from kluis.formats import long_date
from kluis.mail.kinds import attachment_generator, mail_kind
from kluis.mail.models import OutboxMessage
from kluis.mail.services import AttachmentRef, mail_queue
from kluis.policy.enforce import Actor

REFUND_APPROVED = "billing/email/refund_approved"
INVOICE = "billing/email/invoice"
PDF_GENERATOR = "billing.invoice_pdf"
FILENAMES = {"nl": {"invoice": "factuur", "credit_note": "creditnota"}, "en": {}}
MAILER = Actor.system("billing.mail")


@mail_kind(template=REFUND_APPROVED, purpose="refunds", references={"refund_id"})
def _refund_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    refund = Refund.objects.select_related("invoice__customer").get(pk=context["refund_id"])
    customer = refund.invoice.customer
    name = customer.name.reveal(purpose="refunds", actor=actor) if customer.name else ""
    return {
        "name": name,
        "amount": euro(refund.amount_cents),
        "number": refund.invoice.number,
    }


def mail_refund_approved(refund: Refund) -> OutboxMessage:
    customer = refund.invoice.customer
    email = customer.email
    assert email is not None
    return mail_queue(
        template=REFUND_APPROVED,
        to_subject=customer.id,
        recipient_email=email.reveal(purpose="refunds", actor=MAILER),
        language=customer.language,
        context={"refund_id": refund.pk},
        dedupe_key=f"refund:{refund.pk}:approved",
    )


@attachment_generator(PDF_GENERATOR)
def _invoice_pdf(ref: Mapping[str, Any], actor: Actor) -> bytes:
    invoice = Invoice.objects.select_related("customer", "corrects").get(pk=ref["invoice_id"])
    return invoice_pdf(invoice, actor)


@mail_kind(template=INVOICE, purpose="invoicing", references={"invoice_id"})
def _invoice_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    invoice = Invoice.objects.select_related("customer", "order").get(pk=context["invoice_id"])
    name = (
        invoice.billing_name.reveal(purpose="invoicing", actor=actor)
        if invoice.billing_name
        else ""
    )
    return {
        "name": name,
        "number": invoice.number,
        "credit_note": invoice.kind == Invoice.Kind.CREDIT_NOTE,
        "total": euro(invoice.total_cents),
        "due_date": long_date(invoice.due_date),
        "payment_reference": invoice.payment_reference,
        "reverse_charged": invoice.reverse_charged,
        "payee": payee(),
        # A link that needs no login and expires (kluis/billing/online.py).
        "ideal_url": ideal_url(invoice),
        # The invoice of an order is also the mail of its move to "awaiting payment".
        "order_number": invoice.order.number if invoice.order is not None else "",
    }


def ideal_url(invoice: Invoice) -> str:
    from kluis.billing.online import ideal_enabled, pay_url

    if not ideal_enabled() or invoice.kind != Invoice.Kind.INVOICE or invoice.is_paid:
        return ""
    return pay_url(invoice)


def invoice_attachment(invoice: Invoice) -> AttachmentRef:
    """The invoice's PDF as an outbox attachment (made at delivery from the invoice)."""
    stem = FILENAMES.get(invoice.language, {}).get(invoice.kind, invoice.kind.replace("_", "-"))
    return AttachmentRef(
        f"{stem}-{invoice.number}.pdf",
        "application/pdf",
        PDF_GENERATOR,
        {"invoice_id": str(invoice.pk)},
    )


def mail_invoice(invoice: Invoice) -> OutboxMessage:
    customer = invoice.customer
    email = customer.email
    assert email is not None
    return mail_queue(
        template=INVOICE,
        to_subject=customer.id,
        recipient_email=email.reveal(purpose="invoicing", actor=MAILER),
        language=invoice.language,
        context={"invoice_id": str(invoice.pk)},
        dedupe_key=f"invoice:{invoice.pk}",
        attachments=[invoice_attachment(invoice)],
    )


# --- a chargeback reopened the invoice (kluis/billing/chargebacks.py) -------------------

CHARGEBACK = "billing/email/chargeback"


@mail_kind(template=CHARGEBACK, purpose="invoicing", references={"chargeback_id"})
def _chargeback_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    chargeback = Chargeback.objects.select_related("invoice__customer").get(
        pk=context["chargeback_id"]
    )
    invoice = chargeback.invoice
    name = (
        invoice.billing_name.reveal(purpose="invoicing", actor=actor)
        if invoice.billing_name
        else ""
    )
    return {
        "name": name,
        "number": invoice.number,
        "amount": euro(chargeback.amount_cents),
        "received": long_date(chargeback.received_at),
        # What the invoice had open when the chargeback was recorded; nothing when an
        # overpayment still covers it.
        "open": euro(chargeback.open_cents) if chargeback.open_cents > 0 else "",
        "pay_by": long_date(chargeback.pay_by),
        "payment_reference": invoice.payment_reference,
        "payee": payee(),
        "ideal_url": ideal_url(invoice) if chargeback.open_cents > 0 else "",
    }


def mail_chargeback(chargeback: Chargeback) -> OutboxMessage:
    """Queue the one mail of a chargeback, in the invoice's language."""
    invoice = chargeback.invoice
    customer = invoice.customer
    email = customer.email
    assert email is not None
    return mail_queue(
        template=CHARGEBACK,
        to_subject=customer.id,
        recipient_email=email.reveal(purpose="invoicing", actor=MAILER),
        language=invoice.language,
        context={"chargeback_id": chargeback.pk},
        dedupe_key=f"chargeback:{chargeback.provider_id}",
    )


# --- reminders and the statutory letter (kluis/billing/dunning.py) ---------------------

REMINDER = "billing/email/reminder"
STATUTORY_LETTER = "billing/email/statutory_letter"
LETTER_GENERATOR = "billing.statutory_letter_pdf"
LETTER_FILENAMES = {"nl": "aanmaning", "en": "payment-reminder"}


@attachment_generator(LETTER_GENERATOR)
def _statutory_letter_pdf(ref: Mapping[str, Any], actor: Actor) -> bytes:
    from kluis.billing.dunning_pdf import statutory_letter_pdf

    reminder = Reminder.objects.select_related("invoice__customer").get(pk=ref["reminder_id"])
    return statutory_letter_pdf(reminder, actor)


def _reminder_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    reminder = Reminder.objects.select_related("invoice__customer").get(pk=context["reminder_id"])
    invoice = reminder.invoice
    name = invoice.customer.name
    return {
        "name": name.reveal(purpose="collections", actor=actor) if name else "",
        "number": invoice.number,
        "reminder": reminder.stage.rpartition("_")[2],
        "open": euro(reminder.open_cents),
        "costs": euro(reminder.costs_cents),
        "due_date": long_date(invoice.due_date),
        "pay_by": long_date(reminder.pay_by),
        "payment_reference": invoice.payment_reference,
    }


mail_kind(template=REMINDER, purpose="collections", references={"reminder_id"})(_reminder_context)
mail_kind(template=STATUTORY_LETTER, purpose="collections", references={"reminder_id"})(
    _reminder_context
)


def mail_reminder(reminder: Reminder) -> OutboxMessage:
    """Queue the mail of one reminder; the statutory letter goes as a PDF with it."""
    invoice = reminder.invoice
    customer = invoice.customer
    email = customer.email
    assert email is not None
    statutory = reminder.is_statutory_letter
    attachments = []
    if statutory:
        stem = LETTER_FILENAMES.get(invoice.language, LETTER_FILENAMES["nl"])
        attachments.append(
            AttachmentRef(
                f"{stem}-{invoice.number}.pdf",
                "application/pdf",
                LETTER_GENERATOR,
                {"reminder_id": reminder.pk},
            )
        )
    return mail_queue(
        template=STATUTORY_LETTER if statutory else REMINDER,
        to_subject=customer.id,
        recipient_email=email.reveal(purpose="collections", actor=MAILER),
        language=invoice.language,
        context={"reminder_id": reminder.pk},
        # A chargeback's new round mails its stages again (the first round keeps the key
        # it always had).
        dedupe_key=f"reminder:{invoice.pk}:{reminder.stage}"
        if reminder.round == 1
        else f"reminder:{invoice.pk}:{reminder.round}:{reminder.stage}",
        attachments=attachments,
    )
