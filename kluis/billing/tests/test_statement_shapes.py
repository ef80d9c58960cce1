"""Importing statements as banks really write them: batch entries, no bank references,
several statements and accounts, dates with a time, remittance in every place, zips."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest

from kluis.billing import services, statements, zipped
from kluis.billing.camt import StatementRefused
from kluis.billing.camt_write import OUR_IBAN, Tx, statement_xml, write_statement
from kluis.billing.models import BankStatement, Invoice, Payment, Refund
from kluis.billing.tests.helpers import order_for

pytestmark = pytest.mark.django_db(databases="__all__")

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.{v}"
CODE = (
    "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
    "</Domn></BkTxCd>"
)


def _euro(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _import(path):
    return statements.statement_import(path=path, imported_by=None)


def _kenmerk(reference: str) -> str:
    return (
        "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>CUR</Issr></Tp>"
        f"<Ref>{reference}</Ref></CdtrRefInf></Strd>"
    )


def _tx(amount: str | None, *, name="B. Jansen", iban="NL69INGB0123456789", rmt="", extra=""):
    """A TxDtls of camt.053.001.02 (its amount, if any, in AmtDtls)."""
    amt = f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>' if amount else ""
    return (
        f"<TxDtls>{amt}<RltdPties><Dbtr><Nm>{name}</Nm></Dbtr>"
        f"<DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct></RltdPties>"
        f"{f'<RmtInf>{rmt}</RmtInf>' if rmt else ''}{extra}</TxDtls>"
    )


def _entry(amount: str, txs: str, *, ref="", booked="<Dt>2026-11-24</Dt>", note="", ccy="EUR"):
    reference = f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt>{booked}</BookgDt><ValDt>{booked}</ValDt>{reference}{CODE}"
        f"<NtryDtls>{txs}</NtryDtls>"
        f"{f'<AddtlNtryInf>{note}</AddtlNtryInf>' if note else ''}</Ntry>"
    )


def _stmt(entries: str, *, iban=OUR_IBAN, sid="S1", account=None, ccy="EUR") -> str:
    account = account or f"<IBAN>{iban}</IBAN>"
    return (
        f"<Stmt><Id>{sid}</Id><CreDtTm>2026-11-25T06:00:00+01:00</CreDtTm>"
        f"<Acct><Id>{account}</Id><Ccy>{ccy}</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-25</Dt></Dt></Bal>"
        f"{entries}</Stmt>"
    )


def _doc(*stmts: str, version="02") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NS.format(v=version)}">'
        "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-25T06:00:00</CreDtTm>"
        f"</GrpHdr>{''.join(stmts)}</BkToCstmrStmt></Document>"
    )


def _write(tmp_path, xml: str, name="s.xml"):
    path = tmp_path / name
    path.write_text(xml, encoding="utf-8")
    return path


@pytest.fixture
def two(personas):
    """Two open invoices of two different customers."""
    return [
        services.invoice_issue(order=order_for(personas.customer_a), issued_by=None),
        services.invoice_issue(order=order_for(personas.customer_b), issued_by=None),
    ]


def test_a_batch_entry_with_two_kenmerken_pays_both_invoices_and_proposes_no_refund(tmp_path, two):
    a, b = two
    txs = _tx(_euro(a.total_cents), rmt=_kenmerk(a.payment_reference)) + _tx(
        _euro(b.total_cents), name="C. de Wit", rmt=_kenmerk(b.payment_reference)
    )
    entry = _entry(_euro(a.total_cents + b.total_cents), txs, ref="BATCH-1")
    result = _import(_write(tmp_path, _doc(_stmt(entry))))
    assert (result.new, result.matches) == (2, {"reference": 2})
    for invoice in two:
        invoice.refresh_from_db()
        assert invoice.is_paid and invoice.paid_cents == invoice.total_cents
    assert not Refund.objects.exists()
    payments = {p.invoice_id: p for p in Payment.objects.all()}
    assert payments[a.pk].subject == a.customer_id and payments[b.pk].subject == b.customer_id
    assert sorted(p.entry_reference for p in payments.values()) == ["BATCH-1/1", "BATCH-1/2"]


def test_a_batch_entry_whose_transactions_state_no_amounts_waits_for_finance(tmp_path, two):
    a, b = two
    txs = _tx(None, rmt=_kenmerk(a.payment_reference)) + _tx(
        None, rmt=_kenmerk(b.payment_reference)
    )
    entry = _entry(_euro(a.total_cents + b.total_cents), txs, ref="BATCH-2")
    result = _import(_write(tmp_path, _doc(_stmt(entry))))
    assert (result.new, result.unsplit_batches, result.matches) == (1, 1, {"none": 1})
    assert Payment.objects.get().amount_cents == a.total_cents + b.total_cents
    assert not Refund.objects.exists()
    assert not Invoice.objects.filter(paid_cents__gt=0).exists()


def test_a_batch_entry_with_amounts_in_amtdtls_is_split_by_them(tmp_path, two):
    """camt.053.001.02 has no TxDtls/Amt: the amounts are in AmtDtls."""
    a, b = two

    def tx(invoice):
        amount = _euro(invoice.total_cents)
        return (
            f'<TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
            "<RltdPties><Dbtr><Nm>B. Jansen</Nm></Dbtr></RltdPties>"
            f"<RmtInf>{_kenmerk(invoice.payment_reference)}</RmtInf></TxDtls>"
        )

    entry = _entry(_euro(a.total_cents + b.total_cents), tx(a) + tx(b), ref="B3")
    result = _import(_write(tmp_path, _doc(_stmt(entry), version="02")))
    assert result.matches == {"reference": 2}
    assert not Refund.objects.exists()


def test_entries_without_bank_references_import_once_also_from_a_longer_export(tmp_path, two):
    a, b = two
    pay_a = _entry(_euro(a.total_cents), _tx(None, rmt=_kenmerk(a.payment_reference)))
    unknown = _entry("5.00", _tx(None, name="Onbekend", rmt="<Ustrd>gift</Ustrd>"))
    day_one = _doc(_stmt(pay_a + unknown + unknown))
    first = _import(_write(tmp_path, day_one, "day1.xml"))
    # Two identical-looking entries in one file are two payments.
    assert (first.new, first.already_imported) == (3, 0)
    assert _import(_write(tmp_path, day_one, "again.xml")).new == 0
    # The next day's export repeats day one (with another statement id and creation
    # time) and adds a third, identical, entry of day one and a payment of day two.
    pay_b = _entry(
        _euro(b.total_cents),
        _tx(None, rmt=_kenmerk(b.payment_reference)),
        booked="<Dt>2026-11-25</Dt>",
    )
    longer = _doc(_stmt(pay_a + unknown + unknown + unknown + pay_b, sid="S2"))
    second = _import(_write(tmp_path, longer, "days1-2.xml"))
    assert (second.new, second.already_imported) == (2, 3)
    assert Payment.objects.filter(amount_cents=500).count() == 3
    for invoice in two:
        invoice.refresh_from_db()
        assert invoice.is_paid
    assert all(
        r.startswith("fp-") for r in Payment.objects.values_list("entry_reference", flat=True)
    )


def test_a_file_with_several_statements_imports_ours_and_names_the_others(tmp_path, two):
    a, b = two
    ours_1 = _stmt(
        _entry(_euro(a.total_cents), _tx(None, rmt=_kenmerk(a.payment_reference)), ref="X1")
    )
    theirs = _stmt(
        _entry(_euro(b.total_cents), _tx(None, rmt=_kenmerk(b.payment_reference)), ref="Y1"),
        iban="NL20INGB0001234567",
        sid="S2",
    )
    ours_2 = _stmt(_entry("3.00", _tx(None), ref="X2"), sid="S3")
    result = _import(_write(tmp_path, _doc(ours_1, theirs, ours_2)))
    assert result.statements == 2 and result.skipped_accounts == ["NL20INGB0001234567"]
    assert result.new == 2
    b.refresh_from_db()
    assert b.paid_cents == 0  # the other account's money is not ours
    assert BankStatement.objects.count() == 2


def test_several_own_accounts_are_each_imported(tmp_path, two, settings):
    settings.KLUIS_IBANS = [OUR_IBAN, "NL20INGB0001234567"]
    a, b = two
    first = _stmt(
        _entry(_euro(a.total_cents), _tx(None, rmt=_kenmerk(a.payment_reference)), ref="X1")
    )
    second = _stmt(
        _entry(_euro(b.total_cents), _tx(None, rmt=_kenmerk(b.payment_reference)), ref="Y1"),
        iban="NL20INGB0001234567",
        sid="S2",
    )
    result = _import(_write(tmp_path, _doc(first, second)))
    assert (result.statements, result.skipped_accounts, result.new) == (2, [], 2)


def test_a_bank_reference_seen_on_one_account_of_ours_is_new_on_another(tmp_path, two, settings):
    # Two banks number their entries each on their own: "1" at ING is not "1" at ABN.
    other = "NL20INGB0001234567"
    settings.KLUIS_IBANS = [OUR_IBAN, other]
    a, b = two
    first = _stmt(
        _entry(_euro(a.total_cents), _tx(None, rmt=_kenmerk(a.payment_reference)), ref="1")
    )
    second = _stmt(
        _entry(_euro(b.total_cents), _tx(None, rmt=_kenmerk(b.payment_reference)), ref="1"),
        iban=other,
        sid="S2",
    )
    assert _import(_write(tmp_path, _doc(first), name="a.xml")).new == 1
    result = _import(_write(tmp_path, _doc(second), name="b.xml"))
    assert (result.new, result.already_imported) == (1, 0)
    b.refresh_from_db()
    assert b.is_paid
    assert sorted(Payment.objects.values_list("account", "entry_reference")) == sorted(
        [(OUR_IBAN, "1"), (other, "1")]
    )
    # And each account's entry stays imported once.
    again = _import(_write(tmp_path, _doc(first, second), name="c.xml"))
    assert (again.new, again.already_imported) == (0, 2)


def test_a_payment_imported_before_accounts_were_recorded_is_not_imported_again(
    tmp_path, two, settings
):
    # Payments of earlier versions carry no account: their reference counts as seen on
    # every account of ours, so an upgrade never imports a statement a second time.
    a, _b = two
    xml = _doc(
        _stmt(_entry(_euro(a.total_cents), _tx(None, rmt=_kenmerk(a.payment_reference)), ref="R9"))
    )
    assert _import(_write(tmp_path, xml)).new == 1
    Payment.objects.update(account="")
    again = _import(_write(tmp_path, xml, name="again.xml"))
    assert (again.new, again.already_imported) == (0, 1)
    a.refresh_from_db()
    assert a.paid_cents == a.total_cents


def test_one_transaction_naming_two_invoices_with_their_sum_pays_both(tmp_path, two):
    a, b = two
    # Two CdtrRefInf in one TxDtls, their amounts together.
    rmt = _kenmerk(a.payment_reference) + _kenmerk(b.payment_reference)
    entry = _entry(_euro(a.total_cents + b.total_cents), _tx(None, rmt=rmt), ref="TWO-1")
    result = _import(_write(tmp_path, _doc(_stmt(entry))))
    assert (result.new, result.matches, result.unallocated) == (1, {"reference": 1}, 0)
    for invoice in two:
        invoice.refresh_from_db()
        assert invoice.is_paid and invoice.paid_cents == invoice.total_cents
    assert not Refund.objects.exists()
    payments = {p.invoice_id: p for p in Payment.objects.all()}
    assert payments[a.pk].amount_cents == a.total_cents
    assert payments[b.pk].amount_cents == b.total_cents
    # Each share is the payment of its own invoice's customer.
    assert payments[a.pk].subject == a.customer_id and payments[b.pk].subject == b.customer_id
    assert sorted(p.entry_reference for p in payments.values()) == ["TWO-1", "TWO-1+2"]
    # The same file again adds nothing.
    again = _import(_write(tmp_path, _doc(_stmt(entry)), name="again.xml"))
    assert (again.new, again.already_imported) == (0, 1)


def test_invoice_numbers_in_one_text_pay_each_when_the_amount_is_their_sum(tmp_path, two):
    a, b = two
    entry = _entry(
        _euro(a.total_cents + b.total_cents),
        _tx(None, rmt=f"<Ustrd>facturen {a.number} {b.number}</Ustrd>"),
        ref="NUM-1",
    )
    result = _import(_write(tmp_path, _doc(_stmt(entry))))
    assert (result.new, result.matches) == (1, {"invoice_number": 1})
    for invoice in two:
        invoice.refresh_from_db()
        assert invoice.paid_cents == invoice.total_cents
    assert not Refund.objects.exists()


@pytest.mark.parametrize("cents", [-1, 1, 250])
def test_one_transaction_naming_two_invoices_with_another_amount_is_left_for_finance(
    tmp_path, two, cents
):
    a, b = two
    rmt = _kenmerk(a.payment_reference) + _kenmerk(b.payment_reference)
    amount = a.total_cents + b.total_cents + cents
    result = _import(_write(tmp_path, _doc(_stmt(_entry(_euro(amount), _tx(None, rmt=rmt))))))
    assert (result.new, result.matches, result.unallocated) == (1, {"none": 1}, 1)
    payment = Payment.objects.get()
    assert (payment.amount_cents, payment.invoice_id, payment.proposed_invoice_id) == (
        amount,
        None,
        None,
    )
    # Neither invoice is paid on a guess, and no refund goes to either customer.
    assert not Invoice.objects.filter(paid_cents__gt=0).exists()
    assert not Refund.objects.exists()


def test_two_invoices_named_one_already_paid_pays_the_open_one_only(tmp_path, two):
    a, b = two
    first = _entry(_euro(a.total_cents), _tx(None, rmt=_kenmerk(a.payment_reference)), ref="P1")
    both = _entry(
        _euro(b.total_cents),
        _tx(None, rmt=_kenmerk(a.payment_reference) + _kenmerk(b.payment_reference)),
        ref="P2",
    )
    result = _import(_write(tmp_path, _doc(_stmt(first + both))))
    assert (result.new, result.matches, result.unallocated) == (2, {"reference": 2}, 0)
    for invoice in two:
        invoice.refresh_from_db()
        assert invoice.paid_cents == invoice.total_cents
    assert not Refund.objects.exists()


def test_an_account_given_as_othr_id_is_refused_by_name(tmp_path, two):
    account = "<Othr><Id>0417164300</Id></Othr>"
    xml = _doc(_stmt(_entry("1.00", _tx(None), ref="X1"), account=account))
    with pytest.raises(StatementRefused, match="0417164300"):
        _import(_write(tmp_path, xml))
    assert not Payment.objects.exists()


def test_entries_in_another_currency_are_skipped_and_counted_never_summed(tmp_path, two):
    a, _b = two
    entries = _entry(
        _euro(a.total_cents), _tx(None, rmt=_kenmerk(a.payment_reference)), ref="U1", ccy="USD"
    ) + _entry("2.00", _tx(None), ref="E1")
    result = _import(_write(tmp_path, _doc(_stmt(entries))))
    assert (result.foreign_currency, result.new) == (1, 1)
    a.refresh_from_db()
    assert a.paid_cents == 0
    assert Payment.objects.get().amount_cents == 200


@pytest.mark.parametrize(
    ("booked", "day"),
    [
        ("<DtTm>2026-12-31T23:30:00Z</DtTm>", "2027-01-01"),
        ("<DtTm>2026-12-31T23:30:00+01:00</DtTm>", "2026-12-31"),
        ("<DtTm>2026-06-30T22:15:00Z</DtTm>", "2026-07-01"),
        ("<DtTm>2026-12-31T23:30:00</DtTm>", "2026-12-31"),
    ],
)
def test_a_booking_time_lands_on_its_dutch_calendar_day(tmp_path, two, booked, day):
    _import(_write(tmp_path, _doc(_stmt(_entry("1.00", _tx(None), ref="T1", booked=booked)))))
    payment = Payment.objects.get()
    assert payment.booking_date.isoformat() == day
    assert payment.iban.scope.period == day[:4]  # sealed under that fiscal year


@pytest.mark.parametrize(
    "where",
    [
        "rf",
        "issuer_other",
        "ustrd_kenmerk",
        "addtl_tx",
        "addtl_ntry",
        "rfrd_doc",
    ],
)
def test_remittance_is_read_wherever_banks_put_it(tmp_path, two, where):
    a, _b = two
    from stdnum import iso11649
    from stdnum.iso7064 import mod_97_10

    kenmerk, number = a.payment_reference, a.number
    spaced = " ".join(kenmerk[i : i + 4] for i in range(0, 16, 4))
    rmt, extra, note = "", "", ""
    if where == "rf":
        check = mod_97_10.calc_check_digits(f"{kenmerk}RF")
        reference = f"RF{check}{kenmerk}"
        assert iso11649.is_valid(reference)
        rmt = (
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
            f"<Ref>{reference}</Ref></CdtrRefInf></Strd>"
        )
    elif where == "issuer_other":
        rmt = (
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            f"<Ref>{kenmerk}</Ref></CdtrRefInf></Strd>"
        )
    elif where == "ustrd_kenmerk":
        rmt = f"<Ustrd>betalingskenmerk {spaced}</Ustrd>"
    elif where == "addtl_tx":
        extra = f"<AddtlTxInf>Factuur {number} hosting</AddtlTxInf>"
    elif where == "addtl_ntry":
        note = f"OMSCHRIJVING: {number}"
    elif where == "rfrd_doc":
        rmt = f"<Strd><RfrdDocInf><Nb>{number}</Nb></RfrdDocInf></Strd>"
    entry = _entry(_euro(a.total_cents), _tx(None, rmt=rmt, extra=extra), ref="R1", note=note)
    result = _import(_write(tmp_path, _doc(_stmt(entry))))
    assert result.matches in ({"reference": 1}, {"invoice_number": 1})
    a.refresh_from_db()
    assert a.is_paid


def test_version_03_imports(tmp_path, two):
    a, _b = two
    tx = Tx("E1", _euro(a.total_cents), kenmerk=a.payment_reference)
    result = _import(write_statement(tmp_path, [tx], version="03"))
    assert result.matches == {"reference": 1}
    assert BankStatement.objects.get().version == "03"


def _zip(tmp_path, members: dict[str, bytes], name="afschriften.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def test_a_zip_of_statements_imports_every_file_in_one_go(tmp_path, two):
    a, b = two
    day1 = statement_xml([Tx("Z1", _euro(a.total_cents), kenmerk=a.payment_reference)])
    day2 = statement_xml([Tx("Z2", _euro(b.total_cents), kenmerk=b.payment_reference)])
    path = _zip(tmp_path, {"2026-11-24.xml": day1.encode(), "2026-11-25.xml": day2.encode()})
    result = _import(path)
    assert (result.new, result.statements) == (2, 2)
    assert _import(path).new == 0


def test_a_zip_with_ten_thousand_members_is_refused_before_anything_is_read(tmp_path, two):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for n in range(10_000):
            archive.writestr(f"{n}.xml", b"")
    with pytest.raises(StatementRefused, match="10000 bestanden"):
        _import(path)
    assert not Payment.objects.exists()


def test_a_zip_that_expands_to_a_gigabyte_is_refused(tmp_path, two, monkeypatch):
    # A real 1 GiB expansion, streamed into the zip so the test stays small on disk.
    path = tmp_path / "bomb.zip"
    block = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("statement.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(1024):
            member.write(block)
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(StatementRefused, match=r"MB|ingepakt"):
        _import(path)
    assert not Payment.objects.exists()


def test_a_zip_that_lies_about_its_sizes_is_stopped_while_unpacking(tmp_path, two):
    """The central directory may claim a small member; the bytes are counted anyway."""
    data = b"<" + b"a" * (4 * 1024 * 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("s.xml", data)
    raw = bytearray(buffer.getvalue())
    # Rewrite the declared uncompressed size (central directory and local header).
    real = len(data).to_bytes(4, "little")
    fake = (1000).to_bytes(4, "little")
    raw = bytearray(bytes(raw).replace(real, fake))
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(raw))
    with pytest.raises(StatementRefused):
        _import(path)
    assert not Payment.objects.exists()


def test_zip_limits_are_those_documented():
    assert zipped.ZIP_MAX_MEMBERS < 10_000
    assert zipped.ZIP_MAX_BYTES < 1024**3
