"""Invoices a customer can pay: the PDF, the mail and the portal say how, and to whom;
production refuses to start without our own KvK number, VAT number and IBAN."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from pypdf import PdfReader

from kluis.billing import emails, renewals, services
from kluis.billing.pdf import euro, invoice_pdf
from kluis.billing.tests.helpers import order_for
from kluis.formats import long_date
from kluis.mail.delivery import render_mail
from kluis.policy.filled import policy_dir_filled
from kluis.shop.testing import make_subscription
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

PAY_FACTS = ["SinnerG B.V.", "NL91 ABNA 0417 1643 00", "ABNANL2A"]


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_invoice_pdf_says_what_to_pay_by_when_to_which_account(personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    text = _text(invoice_pdf(invoice, services.BILLING))
    for expected in [
        "Zo betaal je",
        "Te betalen",
        euro(invoice.total_cents),
        "Uiterlijk op",
        long_date(invoice.due_date, "nl"),
        "Ten name van",
        *PAY_FACTS,
        invoice.payment_reference,
    ]:
        assert expected in text, expected


def test_a_credit_note_asks_for_no_payment(personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    credit = services.credit_note_issue(invoice=invoice, issued_by=None)
    text = _text(invoice_pdf(credit, services.BILLING))
    assert "Zo betaal je" not in text and "NL91 ABNA" not in text


def test_the_account_holder_and_bic_can_be_set(personas, settings):
    settings.KLUIS_ACCOUNT_HOLDER = "Winkeltjes Beheer B.V."
    settings.KLUIS_IBANS = ["NL44RABO0123456789"]
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    text = _text(invoice_pdf(invoice, services.BILLING))
    assert "Winkeltjes Beheer B.V." in text
    assert "NL44 RABO 0123 4567 89" in text and "RABONL2U" in text


def test_the_invoice_mail_says_how_to_pay_in_dutch_and_english(personas):
    for language, words in (("nl", "Ten name van"), ("en", "In the name of")):
        order = order_for(personas.customer_a, language=language)
        invoice = services.invoice_issue(order=order, issued_by=None)
        context = emails._invoice_context({"invoice_id": str(invoice.pk)}, emails.MAILER)
        mail = render_mail(template=emails.INVOICE, language=language, context=context)
        for text in (mail.text, mail.html):
            assert words in text
            for fact in [*PAY_FACTS, invoice.payment_reference, euro(invoice.total_cents)]:
                assert fact in text, (language, fact)


def test_the_portal_says_how_to_pay_an_open_invoice_and_not_a_credited_one(client, personas):
    open_invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    credited = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    services.credit_note_issue(invoice=credited, issued_by=None)
    log_in(client, personas.alice)
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert f'class="invoice-pay" data-invoice="{open_invoice.number}"' in page
    assert f'class="invoice-pay" data-invoice="{credited.number}"' not in page
    for fact in PAY_FACTS:
        assert fact in page


def test_a_renewal_line_states_its_period_and_the_supply_date_follows_it(personas):
    make_subscription(personas.customer_a, started_on=dt.date(2026, 12, 1))
    invoice = renewals.renewal_invoice_issue(
        customer=personas.customer_a, today=dt.date(2026, 12, 20)
    )
    assert invoice is not None
    [line] = invoice.lines.all()
    assert (line.period_start, line.period_end) == (dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    assert "1 januari 2027 t/m 31 januari 2027" in line.description
    assert (invoice.supply_date, invoice.supply_until) == (line.period_start, line.period_end)
    text = _text(invoice_pdf(invoice, services.BILLING))
    assert "Leverperiode: 1 januari 2027 t/m 31 januari 2027" in text
    credit = services.credit_note_issue(invoice=invoice, issued_by=None)
    assert (credit.supply_date, credit.supply_until) == (invoice.supply_date, invoice.supply_until)


def test_an_order_invoice_line_says_its_first_period_starts_at_delivery(personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    descriptions = [line.description for line in invoice.lines.all()]
    assert all("eerste periode" in d and "vanaf de oplevering" in d for d in descriptions)


ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = {
    "KLUIS_DEBUG": "0",
    "KLUIS_SECRET_KEY": "k" * 60,
    "KLUIS_ALLOWED_HOSTS": "kluis.example",
    "KLUIS_KVK_NUMBER": "12345678",
    "KLUIS_VAT_NUMBER": "NL000099998B57",
    "KLUIS_IBAN": "NL91ABNA0417164300",
}


def _start(tmp_path: Path, **changes: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLUIS_")}
    env.update(PRODUCTION, KLUIS_VAR_DIR=str(tmp_path))
    # The shipped policy still holds a placeholder name, which production refuses.
    env["KLUIS_POLICY_DIR"] = str(policy_dir_filled(tmp_path / "policy"))
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    code = "import django; django.setup()"
    env["DJANGO_SETTINGS_MODULE"] = "kluis.settings"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("KLUIS_KVK_NUMBER", None, "KLUIS_KVK_NUMBER is required"),
        ("KLUIS_KVK_NUMBER", "1234567", "KLUIS_KVK_NUMBER='1234567' is not a KvK number"),
        ("KLUIS_VAT_NUMBER", None, "KLUIS_VAT_NUMBER is required"),
        ("KLUIS_VAT_NUMBER", "NL000099998B58", "KLUIS_VAT_NUMBER='NL000099998B58' is not a valid"),
        ("KLUIS_IBAN", None, "KLUIS_IBAN is required"),
        ("KLUIS_IBAN", "NL91ABNA0417164301", "'NL91ABNA0417164301' is not a valid IBAN"),
    ],
)
def test_production_refuses_to_start_without_valid_identifiers(tmp_path, name, value, says):
    result = _start(tmp_path, **{name: value})
    assert result.returncode != 0
    assert says in result.stderr


def test_production_starts_with_valid_identifiers(tmp_path):
    result = _start(tmp_path)
    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_while_the_policy_names_a_placeholder(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "policy" / "data"
    result = _start(tmp_path, KLUIS_POLICY_DIR=str(shipped))
    assert result.returncode != 0
    for placeholder in (
        "recipients.server_supplier.subprocessor.legal_name",
        "recipients.debt_collector.name",
    ):
        assert placeholder in result.stderr
    assert "are placeholders" in result.stderr
    # Development starts with it, and says nothing.
    assert _start(tmp_path, KLUIS_POLICY_DIR=str(shipped), KLUIS_DEBUG="1").returncode == 0
