"""Importing CAMT.053: validation, refusals, matching, idempotence, all or nothing."""

from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest
from django.db import connection

from kluis.billing import services, statements
from kluis.billing.camt import StatementRefused
from kluis.billing.camt_write import Tx, statement_xml, write_statement
from kluis.billing.models import BankStatement, Invoice, Payment
from kluis.billing.tests.helpers import order_for
from kluis.vault.errors import RevealRefused

pytestmark = pytest.mark.django_db(databases="__all__")


def _euro(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


@pytest.fixture
def invoices(personas):
    return [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
        for _ in range(3)
    ]


def _import(path, **kwargs):
    return statements.statement_import(path=path, imported_by=None, **kwargs)


@pytest.mark.parametrize("version", ["02", "04", "08"])
def test_a_betalingskenmerk_pays_its_invoice_in_every_version(tmp_path, invoices, version):
    invoice = invoices[0]
    tx = Tx("E1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)
    result = _import(write_statement(tmp_path, [tx], version=version))
    assert (result.new, result.matches) == (1, {"reference": 1})
    invoice.refresh_from_db()
    assert invoice.is_paid and invoice.paid_at is not None
    payment = Payment.objects.get()
    assert payment.invoice == invoice
    assert payment.subject == invoice.customer_id
    assert BankStatement.objects.get().version == version


def test_payment_data_is_sealed_under_the_payment_category(tmp_path, invoices):
    invoice = invoices[0]
    tx = Tx("E1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)
    _import(write_statement(tmp_path, [tx]))
    payment = Payment.objects.get()
    assert payment.iban.category == "user.financial.bank_account"
    assert (payment.iban.scope.retention_class, payment.iban.scope.period) == ("fiscal", "2026")
    with connection.cursor() as cursor:
        cursor.execute("SELECT iban, holder FROM billing_payment")
        iban, holder = cursor.fetchone()
    assert b"NL02ABNA" not in bytes(iban) and b"Vries" not in bytes(holder)
    assert payment.iban.reveal(purpose="payment_matching", actor=services.BILLING) == (
        "NL02ABNA0123456789"
    )
    with pytest.raises(RevealRefused):
        payment.iban.reveal(purpose="marketing", actor=services.BILLING)


def test_the_invoice_number_in_the_description_is_the_second_rule(tmp_path, invoices):
    invoice = invoices[1]
    tx = Tx("E1", "10.00", text=f"betaling factuur {invoice.number.lower()} dank")
    result = _import(write_statement(tmp_path, [tx]))
    assert result.matches == {"invoice_number": 1}
    invoice.refresh_from_db()
    assert invoice.paid_cents == 1000 and not invoice.is_paid  # a partial payment


def test_partial_payments_add_up(tmp_path, invoices):
    invoice = invoices[0]
    half = invoice.total_cents // 2
    rest = invoice.total_cents - half
    _import(write_statement(tmp_path, [Tx("E1", _euro(half), kenmerk=invoice.payment_reference)]))
    invoice.refresh_from_db()
    assert not invoice.is_paid
    _import(write_statement(tmp_path, [Tx("E2", _euro(rest), text=invoice.number)], name="b.xml"))
    invoice.refresh_from_db()
    assert invoice.is_paid and invoice.paid_cents == invoice.total_cents


def test_handlers_hear_once_that_an_invoice_is_paid_and_can_undo_the_payment(tmp_path, invoices):
    from kluis.billing.settlement import register_paid_handler, unregister_paid_handler

    heard: list[str] = []
    invoice = invoices[0]
    half = invoice.total_cents // 2

    def handler(paid: Invoice) -> None:
        heard.append(paid.number)

    register_paid_handler(handler)
    try:
        _import(write_statement(tmp_path, [Tx("E1", _euro(half), text=invoice.number)]))
        assert heard == []  # partly paid is not paid
        rest = Tx("E2", _euro(invoice.total_cents), text=invoice.number)  # and overpaid
        _import(write_statement(tmp_path, [rest], name="b.xml"))
        assert heard == [invoice.number]
    finally:
        unregister_paid_handler(handler)

    def refusing(paid: Invoice) -> None:
        raise RuntimeError("the order could not move")

    register_paid_handler(refusing)
    try:
        other = invoices[1]
        tx = Tx("E3", _euro(other.total_cents), kenmerk=other.payment_reference)
        with pytest.raises(RuntimeError):
            _import(write_statement(tmp_path, [tx], name="c.xml"))
    finally:
        unregister_paid_handler(refusing)
    other.refresh_from_db()
    assert other.paid_cents == 0 and not Payment.objects.filter(entry_reference="E3").exists()


def test_a_bad_check_digit_is_treated_as_unstructured_text(tmp_path, invoices):
    invoice = invoices[0]
    bad = f"{(int(invoice.payment_reference[0]) + 1) % 10}{invoice.payment_reference[1:]}"
    result = _import(write_statement(tmp_path, [Tx("E1", "5.00", kenmerk=bad, name="X")]))
    assert result.matches == {"none": 1}
    invoice.refresh_from_db()
    assert invoice.paid_cents == 0


def test_amount_and_name_only_propose_a_match(tmp_path, invoices, personas):
    invoice = invoices[2]
    tx = Tx("E1", _euro(invoice.total_cents), name="Alice de Vries")
    result = _import(write_statement(tmp_path, [tx]))
    # All three invoices have the same amount: no unique proposal.
    assert result.matches == {"none": 1}
    services.credit_note_issue(invoice=invoices[0], issued_by=personas.staff["finance"])
    other = services.invoice_issue(
        order=order_for(personas.customer_a, country="CH"), issued_by=None
    )
    result = _import(
        write_statement(tmp_path, [Tx("E2", _euro(other.total_cents), name="alice  DE vries")])
    )
    assert result.matches == {"proposed": 1}
    payment = Payment.objects.get(entry_reference="E2")
    assert payment.invoice is None and payment.proposed_invoice == other
    assert payment.subject == payment.pk
    other.refresh_from_db()
    assert other.paid_cents == 0
    services.payment_link(payment=payment, invoice=other, by=personas.staff["finance"])
    other.refresh_from_db()
    assert other.is_paid


def test_importing_the_same_statement_again_changes_nothing(tmp_path, invoices):
    invoice = invoices[0]
    path = write_statement(
        tmp_path, [Tx("E1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)]
    )
    _import(path)
    again = _import(path)
    assert (again.new, again.already_imported) == (0, 1)
    assert BankStatement.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.paid_cents == invoice.total_cents


def test_debits_are_not_payments(tmp_path, invoices):
    result = _import(write_statement(tmp_path, [Tx("D1", "3.00", credit=False)]))
    assert (result.new, result.not_credits) == (0, 1)
    assert not Payment.objects.exists()


BILLION_LAUGHS = (
    '<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
)
XXE = '<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (statement_xml([Tx("E1", "1.00")])[:-40], "CAMT.053-schema|afgebroken"),
        ("<Document", "geen CAMT.053|geen goedgevormde XML"),
        ("", "leeg"),
        (statement_xml([Tx("E1", "1.00")], prolog=BILLION_LAUGHS), "DOCTYPE"),
        (statement_xml([Tx("E1", "1.00")], prolog=XXE), "DOCTYPE"),
        (statement_xml([Tx("E1", "1.00")], message_type="camt.052"), "geen CAMT.053"),
        (statement_xml([Tx("E1", "1.00")], iban="NL20INGB0001234567"), "geen afschrift van onze"),
        (statement_xml([Tx("E1", "1.00")], currency="USD"), "niet in euro"),
        (statement_xml([Tx("E1", "0.00")]), "nul of minder"),
        # The schema's error can surface a little after the entry: either refusal will do.
        (statement_xml([Tx("E1", "-1.00")]), "CAMT.053-schema|nul of minder"),
        (statement_xml([Tx("E1", "1.00"), Tx("E2", "x")]), "CAMT.053-schema|geen getal"),
        (
            statement_xml([Tx("E1", "1.00")]).replace("</Stmt>", "<Foo/></Stmt>"),
            "CAMT.053-schema",
        ),
    ],
)
def test_bad_files_are_refused_with_a_clear_error_and_import_nothing(
    tmp_path, invoices, xml, message
):
    invoice = invoices[0]
    good = Tx("G1", _euro(invoice.total_cents), kenmerk=invoice.payment_reference)
    # A good entry first, so "nothing" also means "not the part before the problem".
    xml = xml.replace("<Ntry>", _good_entry(good) + "<Ntry>", 1) if "<Ntry>" in xml else xml
    path = tmp_path / "bad.xml"
    path.write_text(xml, encoding="utf-8")
    with pytest.raises(StatementRefused) as refused:
        _import(path)
    assert re.search(message, str(refused.value))
    assert not Payment.objects.exists()
    assert not BankStatement.objects.exists()
    invoice.refresh_from_db()
    assert invoice.paid_cents == 0


def _good_entry(tx: Tx) -> str:
    xml = statement_xml([tx])
    return xml[xml.index("<Ntry>") : xml.index("</Ntry>") + len("</Ntry>")]


def test_a_missing_schema_directory_refuses_the_import(tmp_path, invoices, settings):
    settings.KLUIS_ISO20022_DIR = tmp_path / "nowhere"
    with pytest.raises(StatementRefused, match="schema"):
        _import(write_statement(tmp_path, [Tx("E1", "1.00")]))


def test_a_crash_at_a_random_entry_then_a_rerun_equals_one_clean_import(
    tmp_path, personas, monkeypatch
):
    # Batches of two: the crash comes after earlier batches were written.
    monkeypatch.setattr(statements, "BATCH_SIZE", 2)
    invoices = [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None)
        for _ in range(6)
    ]
    txs = [
        Tx(f"E{n}", _euro(inv.total_cents // (1 + n % 2)), kenmerk=inv.payment_reference)
        for n, inv in enumerate(invoices)
    ] + [Tx("E-none", "7.00", name="Nobody")]
    path = write_statement(tmp_path, txs)
    original = statements._Rows.add
    crash_at = random.randrange(1, len(txs))
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise KeyboardInterrupt("killed mid-import")
        return original(*args, **kwargs)

    monkeypatch.setattr(statements._Rows, "add", crashing)
    with pytest.raises(KeyboardInterrupt):
        _import(path)
    assert not Payment.objects.exists()
    monkeypatch.setattr(statements._Rows, "add", original)
    _import(path)
    _import(path)
    after_rerun = _state()
    # The same file imported once, cleanly, in a fresh state gives the same result.
    Payment.objects.all().delete()
    BankStatement.objects.all().delete()
    Invoice.objects.filter(pk__in=[i.pk for i in invoices]).update(paid_cents=0, paid_at=None)
    _import(path)
    assert _state() == after_rerun


def _state():
    return (
        sorted(
            Payment.objects.values_list("entry_reference", "amount_cents", "match", "invoice_id")
        ),
        sorted(Invoice.objects.values_list("number", "paid_cents")),
        BankStatement.objects.count(),
    )


def test_a_bank_reference_repeated_in_one_file_is_two_payments_and_once_again_none(
    tmp_path, invoices
):
    invoice = invoices[0]
    tx = Tx("E1", "1.00", kenmerk=invoice.payment_reference)
    path = write_statement(tmp_path, [tx, tx])
    result = _import(path)
    assert (result.new, result.already_imported) == (2, 0)
    invoice.refresh_from_db()
    assert invoice.paid_cents == 200
    assert sorted(Payment.objects.values_list("entry_reference", flat=True)) == ["E1", "E1#2"]
    again = _import(path)
    assert (again.new, again.already_imported) == (0, 2)
    invoice.refresh_from_db()
    assert invoice.paid_cents == 200


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_batches_change_nothing_an_invoice_paid_across_them_is_announced_once(
    tmp_path, invoices, monkeypatch, batch_size
):
    from kluis.billing.settlement import register_paid_handler, unregister_paid_handler

    monkeypatch.setattr(statements, "BATCH_SIZE", batch_size)
    invoice = invoices[0]
    half = invoice.total_cents // 2
    txs = [
        Tx("E1", _euro(half), text=invoice.number),
        Tx("E2", _euro(invoice.total_cents - half), kenmerk=invoice.payment_reference),
        Tx("E3", "2.50", text=f"nog eens {invoice.number}"),
    ]
    heard: list[str] = []

    def handler(paid: Invoice) -> None:
        heard.append(paid.number)

    register_paid_handler(handler)
    try:
        result = _import(write_statement(tmp_path, txs))
    finally:
        unregister_paid_handler(handler)
    assert heard == [invoice.number]
    assert result.matches == {"invoice_number": 2, "reference": 1}
    invoice.refresh_from_db()
    assert invoice.paid_cents == invoice.total_cents + 250
    refund = invoice.refunds.get()
    assert (refund.amount_cents, refund.payment.entry_reference) == (250, "E3")


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_proposal_judges_invoices_by_what_earlier_entries_paid(
    tmp_path, invoices, monkeypatch, batch_size
):
    monkeypatch.setattr(statements, "BATCH_SIZE", batch_size)
    first, second, third = invoices
    total = first.total_cents
    txs = [
        # Three invoices of one amount: paying two leaves one that amount and name fit.
        Tx("E1", _euro(total), kenmerk=second.payment_reference),
        Tx("E2", _euro(total), kenmerk=third.payment_reference),
        Tx("E3", _euro(total), name="Alice de Vries"),
        # Part of the first paid by number: then the rest, by name, fits it alone.
        Tx("E4", "1.00", text=first.number),
        Tx("E5", _euro(total - 100), name="Alice de Vries"),
    ]
    result = _import(write_statement(tmp_path, txs))
    assert result.matches == {"reference": 2, "proposed": 2, "invoice_number": 1}
    proposed = dict(
        Payment.objects.filter(match="proposed").values_list(
            "entry_reference", "proposed_invoice_id"
        )
    )
    assert proposed == {"E3": first.pk, "E5": first.pk}
    first.refresh_from_db()
    assert first.paid_cents == 100  # a proposal pays nothing


def test_the_number_of_queries_does_not_grow_with_the_entries(tmp_path, invoices):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    invoice = invoices[0]

    def queries(n: int, name: str) -> int:
        txs = [
            Tx(f"{name}{i}", "0.01", kenmerk=invoice.payment_reference, text=invoices[1].number)
            for i in range(n)
        ]
        path = write_statement(tmp_path, txs, name=f"{name}.xml")
        with (
            CaptureQueriesContext(connections["default"]) as main,
            CaptureQueriesContext(connections["keystore"]) as keystore,
        ):
            assert _import(path).new == n
        return len(main) + len(keystore)

    assert queries(60, "B") == queries(3, "A")
    invoice.refresh_from_db()
    assert invoice.paid_cents == 63


def test_invoices_the_import_loads_read_their_other_fields_like_deferred_ones(invoices):
    # The import makes its invoices without Model.__init__; a paid handler that reads
    # a field the import did not load must still get it, as from a deferred instance.
    invoice = invoices[0]
    [loaded] = statements._loaded(
        Invoice.objects.filter(pk=invoice.pk).values_list(*statements.INVOICE_FIELDS)
    )
    assert (loaded.pk, loaded.number, loaded.open_cents) == (
        invoice.pk,
        invoice.number,
        invoice.total_cents,
    )
    assert loaded.get_deferred_fields() >= {"issue_date", "due_date"}
    assert loaded.due_date == invoice.due_date and loaded.customer == invoice.customer
    assert loaded.billing_name.reveal(purpose="invoicing", actor=services.BILLING)
