"""The confirmation and status mails, delivered by the outbox worker to a real SMTP server."""

from __future__ import annotations

import hashlib
import io

import pytest
from pypdf import PdfReader

from kluis.mail.delivery import deliver_due
from kluis.shop import services
from kluis.shop.models import Acceptance, Order
from kluis.shop.tests.helpers import checkout, fill_cart

pytestmark = pytest.mark.django_db(databases="__all__")

NOTES = '{{ request.user }} {% now "Y" %} =CMD|"/c calc"!A1 +SUM(1) <script>x</script>'


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_confirmation_carries_both_pdfs_and_the_free_text_literally(
    client, catalogue, smtp_settings
):
    assert (
        checkout(client, fill_cart(client, domains=("visser.nl",)), notes=NOTES).status_code == 302
    )
    order = Order.objects.get()
    assert deliver_due(worker="test").sent == 1
    # (The activation mail of the new account goes out directly, through accounts.)
    [received] = [r for r in smtp_settings.received if order.number in r.message["Subject"]]
    assert received.rcpt_tos == ["eva@example.nl"]
    assert order.number in received.message["Subject"]
    assert NOTES in received.text
    assert "{{ request.user }}" in received.html and "&lt;script&gt;" in received.html
    attachments = received.attachments()
    assert [(name, kind) for name, kind, _ in attachments] == [
        (f"overeenkomst-{order.number}.pdf", "application/pdf"),
        (f"verwerkersovereenkomst-{order.number}.pdf", "application/pdf"),
        (f"modelformulier-herroeping-{order.number}.pdf", "application/pdf"),
    ]
    agreement, processor, form = (content for _, _, content in attachments)
    assert "Modelformulier voor herroeping" in _text(form)
    assert "Overeenkomst voor webhosting" in _text(agreement)
    assert "Verwerkersovereenkomst" in _text(processor)
    for pdf in (agreement, processor):
        assert NOTES in _text(pdf).replace("\n", " ")
    # The PDFs sent are the ones whose hashes the acceptance evidence kept.
    kept = dict(Acceptance.objects.filter(order=order).values_list("document", "pdf_sha256"))
    assert kept["agreement"] == hashlib.sha256(agreement).hexdigest()
    assert kept["processor_agreement"] == hashlib.sha256(processor).hexdigest()


def test_a_status_change_mails_once_in_the_customers_language(
    client, catalogue, smtp_settings, personas
):
    client.post("/i18n/setlang/", {"language": "en"})
    assert checkout(client, fill_cart(client)).status_code == 302
    order = Order.objects.get()
    assert order.language == "en"
    services.order_move(order=order, to="awaiting_payment", by=personas.staff["orders"])
    services.order_move(order=order, to="cancelled", by=personas.staff["orders"])
    # The confirmation, the invoice (the mail of "awaiting payment"), the cancellation,
    # and the credit note that cancels the unpaid invoice.
    assert deliver_due(worker="test").sent == 4
    assert deliver_due(worker="test").handled == 0
    subjects = [
        r.message["Subject"] for r in smtp_settings.received if order.number in r.message["Subject"]
    ]
    assert len(subjects) == 3
    assert any(
        s.startswith("Invoice ") and s.endswith(f"for order {order.number}") for s in subjects
    )
    assert any("cancelled" in s for s in subjects), subjects
    assert any(r.message["Subject"].startswith("Credit note ") for r in smtp_settings.received), (
        subjects
    )
