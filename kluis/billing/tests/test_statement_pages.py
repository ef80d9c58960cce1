"""The statement upload page (finance) and `manage.py import_statement`."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from kluis.billing import services, statements
from kluis.billing.camt_write import Tx, statement_xml, write_statement
from kluis.billing.models import BankStatement, Payment
from kluis.billing.tests.helpers import order_for
from kluis.testing import log_in
from kluis.tests import hostile

pytestmark = pytest.mark.django_db(databases="__all__")


def _paying_statement(invoice) -> str:
    amount = f"{invoice.total_cents // 100}.{invoice.total_cents % 100:02d}"
    return statement_xml([Tx("E1", amount, kenmerk=invoice.payment_reference)], version="08")


def test_finance_uploads_a_statement_and_the_invoice_is_paid(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    log_in(client, personas.staff["finance"])
    upload = _paying_statement(invoice).encode()

    response = client.post(
        reverse("billing_backoffice:statements"),
        {"statement": SimpleUploadedFile("s.xml", upload, "text/xml")},
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.is_paid
    assert BankStatement.objects.get().imported_by == personas.staff["finance"]


def test_a_refused_upload_shows_why_and_imports_nothing(client, personas):
    log_in(client, personas.staff["finance"])

    bad = statement_xml([Tx("E1", "1.00")], iban="NL20INGB0001234567").encode()
    response = client.post(
        reverse("billing_backoffice:statements"),
        {"statement": SimpleUploadedFile("s.xml", bad, "text/xml")},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "geen afschrift van onze rekening" in page and "NL20INGB0001234567" in page
    assert not Payment.objects.exists()


@pytest.mark.parametrize("name", sorted(hostile.HOSTILE))
def test_a_hostile_file_is_refused_as_no_statement_before_it_is_read(client, personas, name):
    log_in(client, personas.staff["finance"])
    response = client.post(
        reverse("billing_backoffice:statements"),
        {"statement": SimpleUploadedFile("afschrift.xml", hostile.HOSTILE[name](), "text/xml")},
    )
    assert response.status_code == 400
    assert "Upload een bestand van het type XML, ZIP" in response.content.decode()
    assert not BankStatement.objects.exists() and not Payment.objects.exists()


def test_other_staff_cannot_open_the_statements_page(client, personas):
    log_in(client, personas.staff["support"])
    assert client.get(reverse("billing_backoffice:statements")).status_code in (302, 403, 404)


def test_the_command_imports_and_refuses(tmp_path, personas, capsys):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    path = tmp_path / "s.xml"
    path.write_text(_paying_statement(invoice), encoding="utf-8")
    call_command("import_statement", str(path))
    assert "1 new payments (reference 1)" in capsys.readouterr().out
    call_command("import_statement", str(path))
    assert "0 new payments" in capsys.readouterr().out
    bad = write_statement(tmp_path, [Tx("E9", "1.00")], name="bad.xml", currency="USD")
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_statement", str(bad))


def test_finance_confirms_a_proposed_match_from_the_queue(client, tmp_path, personas):
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a, country="CH"), issued_by=None
    )
    amount = f"{invoice.total_cents // 100}.{invoice.total_cents % 100:02d}"
    tx = Tx("E1", amount, name="Alice de Vries")
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    payment = Payment.objects.get()
    assert payment.match == Payment.Match.PROPOSED
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:statements")).content.decode()
    assert invoice.number in page
    response = client.post(reverse("billing_backoffice:payment-link", args=[payment.pk]))
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.is_paid
    payment.refresh_from_db()
    assert payment.match == Payment.Match.STAFF
    # Once linked it has left the queue.
    response = client.post(reverse("billing_backoffice:payment-link", args=[payment.pk]))
    assert response.status_code == 404


def test_a_linked_payment_becomes_the_customers_and_its_own_key_is_shredded(
    tmp_path, personas, django_capture_on_commit_callbacks
):
    from kluis.vault.holdings import sealed_holdings
    from kluis.vault.models import DataKey

    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    tx = Tx("E1", "10.00", name="Nobody Known", text="voor de webwinkel")
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    payment = Payment.objects.get()
    own = payment.subject
    assert own != invoice.customer_id and payment.match == Payment.Match.NONE
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_link(payment=payment, invoice=invoice, by=personas.staff["finance"])
    payment = Payment.objects.get()
    assert payment.subject == invoice.customer_id
    assert payment.iban.reveal(purpose="payment_matching", actor=services.BILLING) == tx.iban
    assert payment.remittance.scope.subject == invoice.customer_id
    held = {(type(h.row), h.row.pk) for h in sealed_holdings(invoice.customer_id)}
    assert (Payment, payment.pk) in held
    assert not DataKey.objects.filter(subject=own, wrapped__isnull=False).exists()
    assert DataKey.objects.filter(subject=own, shredded_at__isnull=False).exists()


def test_finance_links_an_unmatched_payment_by_invoice_number(client, tmp_path, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    amount = f"{invoice.total_cents // 100}.{invoice.total_cents % 100:02d}"
    tx = Tx("E1", amount, name="Oma de Vries", text="voor Alice haar webwinkel")
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    payment = Payment.objects.get()
    assert payment.match == Payment.Match.NONE
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:statements")).content.decode()
    assert "Oma de Vries" in page and "voor Alice haar webwinkel" in page
    url = reverse("billing_backoffice:payment-assign", args=[payment.pk])

    response = client.post(url, {"invoice_number": "F1999-000001"}, follow=True)
    assert "Er is geen factuur F1999-000001." in response.content.decode()
    response = client.post(url, {"invoice_number": ""}, follow=True)
    assert "Vul een factuurnummer in." in response.content.decode()
    payment.refresh_from_db()
    assert payment.invoice is None

    response = client.post(url, {"invoice_number": f" {invoice.number.lower()} "}, follow=True)
    assert f"De betaling is aan {invoice.number} gekoppeld." in response.content.decode()
    payment = Payment.objects.get()
    invoice.refresh_from_db()
    assert (payment.invoice, payment.match) == (invoice, Payment.Match.STAFF)
    assert payment.subject == invoice.customer_id and invoice.is_paid
    assert (
        "Oma de Vries" not in client.get(reverse("billing_backoffice:statements")).content.decode()
    )
    # A second link of the same payment is refused without a trace.
    assert client.post(url, {"invoice_number": invoice.number}).status_code == 404


def _zip_of(members: int) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(members):
            archive.writestr(f"{n}.xml", b"")
    return buffer.getvalue()


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_zip_of_ten_thousand_files_gets_a_clear_message_in_the_users_language(
    client, personas, language
):
    log_in(client, personas.staff["finance"])
    response = client.post(
        reverse("billing_backoffice:statements"),
        {"statement": SimpleUploadedFile("afschriften.zip", _zip_of(10_000), "application/zip")},
        HTTP_ACCEPT_LANGUAGE=language,
        headers={"Accept-Language": language},
    )
    assert response.status_code == 400
    page = response.content.decode()
    expected = {
        "nl": "Niets ingelezen: het zipbestand bevat 10000 bestanden",
        "en": "Nothing imported: the zip file contains 10000 files",
    }[language]
    assert expected in page
    assert "/tmp" not in page and "Traceback" not in page
    assert not Payment.objects.exists()


def test_a_statement_of_two_accounts_imports_ours_and_names_the_other(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    ours = _paying_statement(invoice)
    other = statement_xml([Tx("O1", "5.00")], iban="NL20INGB0001234567", version="08")
    stmt = other[other.index("<Stmt>") : other.index("</Stmt>") + len("</Stmt>")]
    both = ours.replace("</Stmt>", "</Stmt>" + stmt, 1)
    log_in(client, personas.staff["finance"])
    response = client.post(
        reverse("billing_backoffice:statements"),
        {"statement": SimpleUploadedFile("s.xml", both.encode(), "text/xml")},
        follow=True,
    )
    page = response.content.decode()
    assert "Overgeslagen, niet onze rekening: NL20INGB0001234567" in page
    invoice.refresh_from_db()
    assert invoice.is_paid
    assert Payment.objects.count() == 1
