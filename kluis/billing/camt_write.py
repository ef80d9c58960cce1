"""Writing CAMT.053 statements (001.02, 001.04, 001.08), valid against the XSDs.

A bank writes these, not kluis; this writer makes the demo statement of `make run`,
the benchmark's 100,000-entry file and the test files, so the importer is always
fed the real format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

OUR_IBAN = "NL91ABNA0417164300"


@dataclass(frozen=True)
class Tx:
    reference: str
    amount: str  # "12.34"
    name: str = "A. de Vries"
    iban: str = "NL02ABNA0123456789"
    kenmerk: str = ""
    text: str = ""
    credit: bool = True
    currency: str = "EUR"
    booked: str = "2026-11-24"  # booking and value date, ISO 8601


def _party(version: str, name: str) -> str:
    if version == "08":
        return f"<Dbtr><Pty><Nm>{escape(name)}</Nm></Pty></Dbtr>"
    return f"<Dbtr><Nm>{escape(name)}</Nm></Dbtr>"


def _remittance(tx: Tx) -> str:
    parts = []
    if tx.text:
        parts.append(f"<Ustrd>{escape(tx.text)}</Ustrd>")
    if tx.kenmerk:
        parts.append(
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>CUR</Issr></Tp>"
            f"<Ref>{escape(tx.kenmerk)}</Ref></CdtrRefInf></Strd>"
        )
    return f"<RmtInf>{''.join(parts)}</RmtInf>" if parts else ""


def _entry(version: str, tx: Tx) -> str:
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version == "08" else "<Sts>BOOK</Sts>"
    side = "CRDT" if tx.credit else "DBIT"
    tx_amount = (
        f'<Amt Ccy="{tx.currency}">{tx.amount}</Amt><CdtDbtInd>{side}</CdtDbtInd>'
        if version in ("03", "04")
        else ""
    )
    # An empty reference: the entry carries neither NtryRef nor AcctSvcrRef, as in
    # Rabobank's and ABN AMRO's exports.
    entry_ref = f"<NtryRef>{tx.reference}</NtryRef>" if tx.reference else ""
    servicer_ref = f"<AcctSvcrRef>{tx.reference}</AcctSvcrRef>" if tx.reference else ""
    return (
        f'<Ntry>{entry_ref}<Amt Ccy="{tx.currency}">{tx.amount}</Amt>'
        f"<CdtDbtInd>{side}</CdtDbtInd>{status}"
        f"<BookgDt><Dt>{tx.booked}</Dt></BookgDt><ValDt><Dt>{tx.booked}</Dt></ValDt>"
        f"{servicer_ref}"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
        "</Domn></BkTxCd>"
        "<NtryDtls><TxDtls>"
        f"{tx_amount}"
        f"<RltdPties>{_party(version, tx.name)}"
        f"<DbtrAcct><Id><IBAN>{tx.iban}</IBAN></Id></DbtrAcct></RltdPties>"
        f"{_remittance(tx)}"
        "</TxDtls></NtryDtls></Ntry>"
    )


def statement_xml(
    txs: list[Tx],
    *,
    version: str = "02",
    iban: str = OUR_IBAN,
    currency: str = "EUR",
    message_type: str = "camt.053",
    prolog: str = "",
    message_id: str = "MSG-1",
    created: str = "2026-11-25T06:00:00",
) -> str:
    root = "BkToCstmrStmt"
    entries = "".join(_entry(version, tx) for tx in txs)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{message_type}.001.{version}">'
        f"<{root}><GrpHdr><MsgId>{escape(message_id)}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{escape(message_id)}</Id><CreDtTm>{created}</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{created[:10]}</Dt></Dt></Bal>"
        f"{entries}</Stmt></{root}></Document>"
    )


def write_statement(tmp_path: Path, txs: list[Tx], name: str = "s.xml", **kwargs: str) -> Path:
    path = tmp_path / name
    path.write_text(statement_xml(txs, **kwargs), encoding="utf-8")
    return path


def stream_statement(path: Path, txs: Iterable[Tx], *, version: str = "02") -> Path:
    """Write a statement entry by entry, for files too large to build as one string."""
    head, tail = statement_xml([], version=version).split("</Stmt>")
    with path.open("w", encoding="utf-8") as out:
        out.write(head)
        for tx in txs:
            out.write(_entry(version, tx))
        out.write("</Stmt>" + tail)
    return path
