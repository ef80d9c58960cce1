"""Every statement of the bank-shaped corpus (tests/corpus/README.md) imports, on SQLite
and PostgreSQL, and a second import of each changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kluis.billing import services, statements
from kluis.billing.camt import StatementRefused
from kluis.billing.models import BankStatement, Invoice, InvoiceCounter, Payment, Refund
from kluis.billing.reference import new_reference
from kluis.billing.tests.helpers import order_for

pytestmark = pytest.mark.django_db(databases="__all__")

CORPUS = Path(__file__).parent / "corpus"
OURS = [
    "NL91ABNA0417164300",
    "NL20INGB0001234567",
    "NL44RABO0123456789",
    "NL23BUNQ2025123456",
    "NL07KNAB0255123456",
    "NL12TRIO0198765432",
]
# The betalingskenmerken the files quote (valid check digits), for invoices 1 to 8;
# invoices 1 to 12 have the numbers F2026-000901 to F2026-000912.
KENMERKEN = [
    "7000000000012345",
    "0000000000023456",
    "4000000000034567",
    "8000000000045678",
    "1000000000056789",
    "3000000000067890",
    "3000000000078901",
    "1000000000089012",
]

# file: (new payments, matches, debits/unbooked, other currency, statements, skipped)
EXPECTED = {
    "ing-camt053-001.02.xml": (5, {"reference": 3, "invoice_number": 1, "none": 1}, 1, 0, 1, []),
    "rabobank-camt053-001.02.xml": (
        4,
        {"reference": 1, "invoice_number": 1, "none": 2},
        0,
        0,
        2,
        [],
    ),
    "abnamro-camt053-001.02.xml": (3, {"invoice_number": 1, "none": 2}, 0, 0, 1, []),
    "bunq-camt053-001.08.xml": (2, {"reference": 1, "none": 1}, 0, 1, 1, []),
    "knab-camt053-001.03.xml": (1, {"reference": 1}, 0, 0, 1, ["NL22SNSB0912345678"]),
    "triodos-camt053-001.04.xml": (3, {"reference": 2, "invoice_number": 1}, 0, 0, 1, []),
}


@pytest.fixture
def invoices(personas, settings, monkeypatch):
    """Invoices F2026-000901 to F2026-000912, the first eight with the kenmerken above."""
    settings.KLUIS_IBANS = OURS
    settings.KLUIS_INVOICE_SERIES = "F"
    order_for(personas.customer_a)  # the customer's address and country
    InvoiceCounter.objects.update_or_create(series="F", defaults={"last": 900})
    references = iter(KENMERKEN)
    monkeypatch.setattr(services, "new_reference", lambda: next(references, new_reference()))
    made = [
        services.invoice_issue_for_lines(
            customer=personas.customer_a,
            lines=[services.LineInput(description="Hosting", unit_cents=1000)],
            evidence=None,
            issued_by=None,
            issue_date=dt.date(2026, 11, 10),
        )
        for _ in range(12)
    ]
    assert [i.number for i in made] == [f"F2026-{n:06d}" for n in range(901, 913)]
    assert [i.payment_reference for i in made[:8]] == KENMERKEN
    return made


def _state():
    return (
        sorted(
            Payment.objects.values_list(
                "entry_reference", "amount_cents", "match", "invoice_id", "booking_date"
            )
        ),
        sorted(Invoice.objects.values_list("number", "paid_cents", "paid_at")),
        sorted(Refund.objects.values_list("invoice_id", "amount_cents")),
        BankStatement.objects.count(),
    )


def test_the_corpus_has_a_file_of_each_large_dutch_bank():
    names = {p.name.split("-")[0] for p in CORPUS.glob("*.xml")}
    assert names == {"ing", "rabobank", "abnamro", "bunq", "knab", "triodos"}
    assert set(EXPECTED) == {p.name for p in CORPUS.glob("*.xml")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bank_file_imports_and_a_second_import_changes_nothing(invoices, name):
    new, matches, not_credits, foreign, stmts, skipped = EXPECTED[name]
    result = statements.statement_import(path=CORPUS / name, imported_by=None)
    assert (result.new, result.matches) == (new, matches)
    assert (result.not_credits, result.foreign_currency) == (not_credits, foreign)
    assert (result.statements, result.skipped_accounts) == (stmts, skipped)
    assert result.already_imported == 0
    before = _state()
    again = statements.statement_import(path=CORPUS / name, imported_by=None)
    assert (again.new, again.already_imported) == (0, new)
    assert _state() == before


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bank_file_imports_alike_when_read_in_a_second_process(invoices, name, read_in_child):
    """A large file is read in a child process: the import finds what it finds in-process."""
    started = read_in_child
    new, matches, not_credits, foreign, stmts, skipped = EXPECTED[name]
    result = statements.statement_import(path=CORPUS / name, imported_by=None)
    assert (result.new, result.matches) == (new, matches)
    assert (result.not_credits, result.foreign_currency) == (not_credits, foreign)
    assert (result.statements, result.skipped_accounts) == (stmts, skipped)
    assert len(started) == 1 and started[0].returncode == 0
    again = statements.statement_import(path=CORPUS / name, imported_by=None)
    assert (again.new, again.already_imported) == (0, new)


def test_a_refusal_late_in_a_file_read_by_the_child_imports_nothing(
    invoices, read_in_child, tmp_path
):
    """Whatever the child handed over before its refusal was imported in the import's
    one transaction, and goes with it."""
    source = (CORPUS / "ing-camt053-001.02.xml").read_text()
    last = source.rindex("<Ntry>")
    cut = source.index("<CdtDbtInd>", last)
    path = tmp_path / "late.xml"
    path.write_text(source[:cut] + "<Bogus/>" + source[cut:])
    with pytest.raises(StatementRefused, match=r"CAMT\.053-schema"):
        statements.statement_import(path=path, imported_by=None)
    assert _state() == (
        [],
        sorted(Invoice.objects.values_list("number", "paid_cents", "paid_at")),
        [],
        0,
    )
    assert Payment.objects.count() == 0 and read_in_child[0].returncode is not None


def test_the_whole_corpus_in_one_zip_imports_once(invoices, tmp_path):
    import zipfile

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(CORPUS.glob("*.xml")):
            archive.write(file, f"export/{file.name}")
    result = statements.statement_import(path=path, imported_by=None)
    assert result.new == sum(e[0] for e in EXPECTED.values())
    before = _state()
    assert statements.statement_import(path=path, imported_by=None).new == 0
    assert _state() == before


def test_what_the_corpus_pays_lands_where_the_files_say(invoices):
    for name in sorted(EXPECTED):
        statements.statement_import(path=CORPUS / name, imported_by=None)
    paid = {i.number: i for i in Invoice.objects.filter(paid_cents__gt=0)}
    # Every invoice the files name by kenmerk or number received money.
    named = {f"F2026-{n:06d}" for n in (901, 902, 903, 904, 905, 906, 907, 908)}
    named |= {"F2026-000909", "F2026-000910", "F2026-000911", "F2026-000912"}
    assert set(paid) == named
    # The batch entries paid each of their invoices its own amount, and nothing more.
    amounts = dict(
        Payment.objects.filter(invoice__isnull=False).values_list("entry_reference", "amount_cents")
    )
    assert amounts["2026112400917345000000003/1"] == 12100
    assert amounts["2026112400917345000000003/2"] == 4953
    assert amounts["20261124-000041/1"] == 19360
    assert amounts["20261124-000041/2"] == 12100
    # bunq's 23:30 UTC on 31 December is New Year's Day in the Netherlands.
    new_year = Payment.objects.get(entry_reference="1988263517")
    assert new_year.booking_date.isoformat() == "2027-01-01"
    # The other account's money in the Knab file was not taken as ours.
    assert not Payment.objects.filter(amount_cents=25000).exists()
