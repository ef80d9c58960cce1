"""Billing's mails, through the outbox: each invoice (with its PDF) and approved refunds.

The invoice PDF is made again at delivery from the invoice (deterministic), so the
outbox holds only the invoice's id, never a copy of the billing data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kluis.billing.models import Invoice, Refund
from kluis.billing.pdf import euro, invoice_pdf
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
    invoice = Invoice.objects.select_related("customer").get(pk=context["invoice_id"])
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
        "due_date": invoice.due_date.strftime("%d-%m-%Y"),
        "payment_reference": invoice.payment_reference,
        "reverse_charged": invoice.reverse_charged,
    }


def mail_invoice(invoice: Invoice) -> OutboxMessage:
    customer = invoice.customer
    email = customer.email
    assert email is not None
    stem = FILENAMES.get(invoice.language, {}).get(invoice.kind, invoice.kind.replace("_", "-"))
    return mail_queue(
        template=INVOICE,
        to_subject=customer.id,
        recipient_email=email.reveal(purpose="invoicing", actor=MAILER),
        language=invoice.language,
        context={"invoice_id": str(invoice.pk)},
        dedupe_key=f"invoice:{invoice.pk}",
        attachments=[
            AttachmentRef(
                f"{stem}-{invoice.number}.pdf",
                "application/pdf",
                PDF_GENERATOR,
                {"invoice_id": str(invoice.pk)},
            )
        ],
    )
