"""What goes to the debt collector, the disclosure ledger, and the pages around it (R29)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import pytest
from django.urls import reverse
from django.utils import translation

from kluis.audit.models import Disclosure
from kluis.billing import dunning, emails, services, statements
from kluis.billing.camt_write import Tx, write_statement
from kluis.billing.models import CollectionHandover, Invoice, Reminder
from kluis.billing.tests.helpers import order_for
from kluis.formats import long_date
from kluis.mail.delivery import render_mail
from kluis.mail.kinds import get_generator
from kluis.mail.models import OutboxMessage
from kluis.testing import log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

ISSUE = dt.date(2026, 3, 2)
DUE = dt.date(2026, 3, 16)
LATER = DUE + dt.timedelta(days=60)
ALICE_IBAN = "NL02ABNA0123456789"
ALICE_VAT = "NL000099998B57"  # on Alice's customer record (kluis.testing.make_personas)
COLUMNS_NL = [
    "naam",
    "organisatie",
    "straat en huisnummer",
    "postcode",
    "plaats",
    "land",
    "telefoonnummer",
    "e-mailadres",
    "factuurnummer",
    "factuurdatum",
    "vervaldatum",
    "openstaand bedrag",
    "incassokosten",
]


@pytest.fixture(autouse=True)
def _schedule(settings):
    settings.KLUIS_REMINDER_DAYS = [7, 21]
    settings.KLUIS_PAYMENT_TERM_DAYS = 14


def _through_reminders(customer, **kwargs) -> Invoice:
    invoice = services.invoice_issue(
        order=order_for(customer, **kwargs), issued_by=None, issue_date=ISSUE
    )
    today = DUE
    while today <= LATER:
        dunning.dunning_run(today=today)
        today += dt.timedelta(days=1)
    return invoice


@pytest.fixture
def partly_paid(personas, tmp_path) -> Invoice:
    """Alice's invoice, €5 paid from her account, then through all reminders."""
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    tx = Tx("E1", "5.00", kenmerk=invoice.payment_reference, iban=ALICE_IBAN)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    today = DUE
    while today <= LATER:
        dunning.dunning_run(today=today)
        today += dt.timedelta(days=1)
    return invoice


@pytest.fixture
def approved(personas, partly_paid) -> CollectionHandover:
    handover = dunning.collections_propose(
        invoice=partly_paid, by=personas.staff["finance"], today=LATER
    )
    return dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=True
    )


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


# --- the CSV and PDF ----------------------------------------------------------------------


def test_the_csv_holds_only_the_four_fields_and_the_invoice(approved, partly_paid, personas):
    body = dunning.handover_csv(approved, personas.staff["finance"].actor())
    header, *rows = _rows(body)
    assert header == COLUMNS_NL
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row == {
        "naam": "Alice de Vries",
        "organisatie": "",  # Alice orders as a person
        "straat en huisnummer": "Lindengracht 12",
        "postcode": "1015 KK",
        "plaats": "Amsterdam",
        "land": "NL",
        "telefoonnummer": "'+31201234567",  # a leading + is neutralised for spreadsheets
        "e-mailadres": "alice@example.nl",
        "factuurnummer": partly_paid.number,
        "factuurdatum": "2026-03-02",
        "vervaldatum": "2026-03-16",
        "openstaand bedrag": f"{(partly_paid.total_cents - 500) / 100:.2f}",
        "incassokosten": "40.00",
    }
    text = body.decode()
    for absent in (
        ALICE_IBAN,
        ALICE_VAT,
        personas.customer_a.number,
        str(personas.customer_a.id),
        str(partly_paid.pk),
        partly_paid.payment_reference,
    ):
        assert absent not in text
    assert hashlib.sha256(body).hexdigest() == approved.csv_sha256


def test_the_csv_speaks_english_when_approved_in_english(personas, partly_paid):
    handover = dunning.collections_propose(
        invoice=partly_paid, by=personas.staff["finance"], today=LATER
    )
    handover = dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=True, language="en"
    )
    header = _rows(dunning.handover_csv(handover, personas.staff["finance"].actor()))[0]
    assert header[0] == "name" and header[-1] == "collection costs"
    assert len(header) == len(COLUMNS_NL)


def test_a_formula_in_a_name_is_neutralised(personas):
    personas.customer_a.name = '=HYPERLINK("http://evil.example","klik")'
    personas.customer_a.save(update_fields=["name", "name_index"])
    invoice = _through_reminders(personas.customer_a)
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=LATER
    )
    handover = dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=True
    )
    row = _rows(dunning.handover_csv(handover, personas.staff["finance"].actor()))[1]
    assert row[0] == '\'=HYPERLINK("http://evil.example","klik")'


def test_the_pdf_shows_the_same_fields_and_nothing_else(approved, partly_paid, personas):
    from kluis.billing.dunning_pdf import handover_pdf

    pdf = handover_pdf(approved, personas.staff["finance"].actor())
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == approved.pdf_sha256
    for shown in (b"Alice de Vries", b"Lindengracht 12", b"alice@example.nl", b"+31201234567"):
        assert shown in pdf
    assert partly_paid.number.encode() in pdf
    for absent in (ALICE_IBAN, ALICE_VAT, partly_paid.payment_reference):
        assert absent.encode() not in pdf


# --- the disclosure ledger and "my data" -------------------------------------------------


def test_approving_records_one_disclosure_to_the_debt_collector(approved, personas):
    disclosure = Disclosure.objects.get()
    assert disclosure.subject == personas.customer_a.id
    assert disclosure.recipient == "debt_collector"
    assert disclosure.purpose == "collections"
    assert disclosure.legal_basis == "legitimate_interest"
    assert set(disclosure.categories) == {
        "user.name",
        "user.contact.address",
        "user.contact.phone_number",
        "user.contact.email",
    }
    assert disclosure.reference == approved.invoice.number


def test_an_organisations_debt_is_handed_over_in_the_organisations_name(personas):
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a, kind="organisation"), issued_by=None, issue_date=ISSUE
    )
    today = DUE
    while today <= LATER:
        dunning.dunning_run(today=today)
        today += dt.timedelta(days=1)
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=LATER
    )
    handover = dunning.collections_decide(
        handover=handover, by=make_staff(roles=["finance"]), approve=True
    )
    header, row = _rows(dunning.handover_csv(handover, personas.staff["finance"].actor()))
    fields = dict(zip(header, row, strict=True))
    assert fields["organisatie"] == "Voorbeeld BV"
    assert fields["naam"] == "Alice de Vries"  # the contact person
    assert "user.contact.organization" in Disclosure.objects.get().categories


def test_only_the_categories_that_are_held_are_recorded(personas):
    invoice = _through_reminders(personas.customer_b)  # Bob has no phone number
    handover = dunning.collections_propose(
        invoice=invoice, by=personas.staff["finance"], today=LATER
    )
    dunning.collections_decide(handover=handover, by=make_staff(roles=["finance"]), approve=True)
    assert "user.contact.phone_number" not in Disclosure.objects.get().categories


def test_the_my_data_page_shows_the_handover(client, approved, personas):
    from kluis.policy.loader import current_policy

    # The recipient by its own name (art. 15(1)(c) GDPR), as the policy file names it.
    collector = current_policy().recipients["debt_collector"].name
    assert collector
    log_in(client, personas.alice)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert collector in page.split("Aan wie we gegevens")[1]
    assert "incasso van onbetaalde facturen" in page
    log_in(client, personas.bob)
    page = client.get(reverse("portal:my-data")).content.decode()
    assert collector not in page.split("Aan wie we gegevens")[1]


# --- mails and the statutory letter ---------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "subject", "costs_line"),
    [
        ("nl", "Aanmaning: factuur", "buitengerechtelijke incassokosten verschuldigd van € 40,00"),
        ("en", "Formal notice: invoice", "extrajudicial collection costs of €40.00"),
    ],
)
def test_the_statutory_letter_mail_states_term_costs_and_reference(
    personas, language, subject, costs_line
):
    invoice = _through_reminders(personas.customer_a, language=language)
    message = OutboxMessage.objects.get(template=emails.STATUTORY_LETTER)
    assert message.language == language
    with translation.override(language):  # as the delivery loads it
        context = emails._reminder_context(message.context, emails.MAILER)
    mail = render_mail(template=emails.STATUTORY_LETTER, language=language, context=context)
    letter = invoice.reminders.get(stage=Reminder.STATUTORY_LETTER)
    assert mail.subject.startswith(subject)
    assert invoice.payment_reference in mail.text
    assert long_date(letter.pay_by, language) in mail.text
    assert costs_line in mail.text
    attachment = message.attachments.get()
    pdf = get_generator(attachment.generator)(attachment.ref, emails.MAILER)
    assert pdf.startswith(b"%PDF")
    assert invoice.payment_reference.encode() in pdf
    assert (b"40,00" if language == "nl" else b"40.00") in pdf


@pytest.mark.parametrize(
    ("language", "subject"),
    [("nl", "Herinnering 1: factuur"), ("en", "Reminder 1: invoice")],
)
def test_a_reminder_mail_has_the_open_amount_and_reference(personas, tmp_path, language, subject):
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a, language=language), issued_by=None, issue_date=ISSUE
    )
    dunning.dunning_run(today=DUE + dt.timedelta(days=7))
    message = OutboxMessage.objects.get(template=emails.REMINDER)
    context = emails._reminder_context(message.context, emails.MAILER)
    mail = render_mail(template=emails.REMINDER, language=language, context=context)
    assert mail.subject.startswith(subject)
    assert invoice.payment_reference in mail.text
    assert context["open"].replace("€ ", "") in mail.html
    assert not message.attachments.exists()


# --- the back office ----------------------------------------------------------------------


def test_finance_proposes_approves_and_downloads_in_the_back_office(client, personas):
    from django.utils import timezone

    from kluis.billing.testing import invoice_through_reminders

    invoice = invoice_through_reminders(personas.customer_a)
    assert invoice.issue_date == timezone.localdate() - dt.timedelta(days=120)
    first, second = personas.staff["finance"], make_staff(roles=["finance"])
    log_in(client, first)
    page = client.get(reverse("billing_backoffice:collections"))
    assert page.status_code == 200
    assert invoice.number in page.content.decode()
    assert "Overdracht voorstellen" in page.content.decode()
    assert "Alice" not in page.content.decode()  # the list shows no personal data
    client.post(reverse("billing_backoffice:collections-propose", args=[invoice.pk]))
    handover = CollectionHandover.objects.get()
    client.post(
        reverse("billing_backoffice:collections-decide", args=[handover.pk]), {"approve": "yes"}
    )
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.PROPOSED  # the proposer may not
    csv_url = reverse("billing_backoffice:collections-csv", args=[handover.pk])
    assert client.get(csv_url).status_code == 404  # nothing to download before approval
    client.logout()
    log_in(client, second)
    response = client.post(
        reverse("billing_backoffice:collections-decide", args=[handover.pk]), {"approve": "maybe"}
    )
    assert response.status_code == 302
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.PROPOSED  # bad input changes nothing
    client.post(
        reverse("billing_backoffice:collections-decide", args=[handover.pk]), {"approve": "yes"}
    )
    handover.refresh_from_db()
    assert handover.status == CollectionHandover.Status.APPROVED
    response = client.get(csv_url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="incasso-{invoice.number}.csv"'
    assert hashlib.sha256(response.content).hexdigest() == handover.csv_sha256
    pdf = client.get(reverse("billing_backoffice:collections-pdf", args=[handover.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_other_roles_do_not_open_the_collections_page(client, personas):
    for role in ("orders", "support", "privacy_officer", "admin"):
        log_in(client, personas.staff[role])
        assert client.get(reverse("billing_backoffice:collections")).status_code == 403
    log_in(client, personas.alice)
    assert client.get(reverse("billing_backoffice:collections")).status_code == 404


def test_proposing_an_invoice_that_is_not_eligible_says_why(client, personas):
    invoice = services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
    log_in(client, personas.staff["finance"])
    response = client.post(
        reverse("billing_backoffice:collections-propose", args=[invoice.pk]), follow=True
    )
    assert response.status_code == 200
    assert "kan nog niet naar de incasso" in response.content.decode()
    assert not CollectionHandover.objects.exists()


# --- the portal -----------------------------------------------------------------------------


def test_the_portal_shows_reminders_to_their_own_customer_only(client, personas):
    invoice = _through_reminders(personas.customer_a)
    letter = invoice.reminders.get(stage=Reminder.STATUTORY_LETTER)
    pdf_url = reverse("billing_portal:reminder-pdf", args=[letter.pk])
    log_in(client, personas.alice)
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert "Herinneringen" in page and "herinnering 2" in page
    assert "wettelijke aanmaning" in page and pdf_url in page
    response = client.get(pdf_url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert b"Alice de Vries" in response.content
    first = invoice.reminders.get(stage="reminder_1")
    assert client.get(reverse("billing_portal:reminder-pdf", args=[first.pk])).status_code == 404
    log_in(client, personas.bob)
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert invoice.number not in page and "Herinneringen" not in page
    assert client.get(pdf_url).status_code == 404


def test_the_portal_marks_reminders_of_a_paid_invoice(client, personas, tmp_path):
    invoice = services.invoice_issue(
        order=order_for(personas.customer_a), issued_by=None, issue_date=ISSUE
    )
    dunning.dunning_run(today=DUE + dt.timedelta(days=7))
    tx = Tx("E1", f"{invoice.total_cents / 100:.2f}", kenmerk=invoice.payment_reference)
    statements.statement_import(path=write_statement(tmp_path, [tx]), imported_by=None)
    log_in(client, personas.alice)
    page = client.get(reverse("billing_portal:invoices")).content.decode()
    assert "herinnering 1" in page and "betaald" in page


def test_the_pages_and_the_letter_speak_english(client, personas):
    from kluis.billing.dunning_pdf import statutory_letter_pdf
    from kluis.policy.enforce import Actor

    invoice = _through_reminders(personas.customer_a, language="en")
    log_in(client, personas.alice)
    page = client.get(reverse("billing_portal:invoices"), HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "Reminders" in text and "reminder 2" in text and "statutory reminder" in text
    assert "Herinneringen" not in text and "veertiendagenbrief" not in text
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:collections"), HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert "Reminders and collections" in text and "Propose hand-over" in text
    assert "Overdracht voorstellen" not in text and "klaar voor incasso" not in text
    letter = invoice.reminders.get(stage=Reminder.STATUTORY_LETTER)
    pdf = statutory_letter_pdf(letter, Actor.subject(personas.customer_a.id))
    assert b"Formal notice" in pdf and b"Aanmaning" not in pdf


def test_the_finance_overview_counts_what_waits_on_the_collections_page(client, personas):
    from kluis.billing.testing import invoice_through_reminders

    invoice_through_reminders(personas.customer_a)
    proposed = invoice_through_reminders(personas.customer_b)
    dunning.collections_propose(invoice=proposed, by=personas.staff["finance"])
    log_in(client, personas.staff["finance"])
    page = client.get(reverse("billing_backoffice:overview")).content.decode()
    eligible = page.split('class="collections-eligible"')[1].split("</tr>")[0]
    to_decide = page.split('class="collections-to-decide"')[1].split("</tr>")[0]
    assert "<td>1</td>" in eligible and "<td>1</td>" in to_decide
    assert reverse("billing_backoffice:collections") in eligible
