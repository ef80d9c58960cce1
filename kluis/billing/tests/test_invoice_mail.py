"""Each invoice is mailed once through the outbox, with its PDF made at delivery."""

from __future__ import annotations

import pytest

from kluis.billing import emails, services
from kluis.billing.tests.helpers import order_for
from kluis.mail.delivery import render_mail
from kluis.mail.kinds import get_generator
from kluis.mail.models import OutboxMessage

pytestmark = pytest.mark.django_db(databases="__all__")


def test_issuing_queues_one_mail_with_the_pdf_and_the_payment_reference(personas):
    order = order_for(personas.customer_a)
    invoice = services.invoice_issue(order=order, issued_by=None)
    services.invoice_issue(order=order, issued_by=None)
    message = OutboxMessage.objects.get(template=emails.INVOICE)
    assert message.to_subject == invoice.customer_id
    assert message.dedupe_key == f"invoice:{invoice.pk}"
    attachment = message.attachments.get()
    assert attachment.filename == f"factuur-{invoice.number}.pdf"
    pdf = get_generator(attachment.generator)(attachment.ref, emails.MAILER)
    assert pdf.startswith(b"%PDF")
    context = emails._invoice_context(message.context, emails.MAILER)
    mail = render_mail(template=emails.INVOICE, language="nl", context=context)
    assert mail.subject == f"Factuur {invoice.number} voor bestelling {order.number}"
    assert invoice.payment_reference in mail.text
    assert "Alice de Vries" in mail.html


def test_a_reverse_charged_invoice_mail_says_so_in_english(personas):
    order = order_for(
        personas.customer_a, country="BE", vies="valid", kind="organisation", language="en"
    )
    invoice = services.invoice_issue(order=order, issued_by=None)
    context = emails._invoice_context({"invoice_id": str(invoice.pk)}, emails.MAILER)
    mail = render_mail(template=emails.INVOICE, language="en", context=context)
    assert mail.subject == f"Invoice {invoice.number} for order {order.number}"
    assert "VAT reverse-charged" in mail.text
