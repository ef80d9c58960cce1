"""Reading a CAMT.053 bank statement (versions 001.02, 001.04 and 001.08), streaming.

The file is parsed once with lxml's iterparse, validating against the ISO 20022
schema of its version while it streams; each entry is handed on and cleared, so a
statement of 100,000 entries does not sit in memory. No DTD, no entities and no
network: a DOCTYPE is refused outright (no XXE, no billion laughs).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from django.conf import settings
from lxml import etree  # type: ignore[import-untyped]

VERSIONS = ("02", "04", "08")
NAMESPACES = {f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{v}": v for v in VERSIONS}


class StatementRefused(Exception):
    """The file is not a statement we import; nothing of it was imported."""


@dataclass(frozen=True)
class StatementHeader:
    version: str
    message_id: str
    statement_id: str
    iban: str
    currency: str


@dataclass(frozen=True)
class Entry:
    reference: str
    amount_cents: int
    currency: str
    credit: bool
    booked: bool
    booking_date: dt.date
    iban: str
    holder: str
    structured_reference: str  # the CdtrRefInf with issuer CUR, as given
    unstructured: str


def schema_dir() -> Path:
    return Path(settings.KLUIS_ISO20022_DIR)


@functools.cache
def _schema(directory: str, version: str) -> etree.XMLSchema:
    path = Path(directory) / f"camt.053.001.{version}.xsd"
    if not path.is_file():
        raise StatementRefused(
            f"the schema {path.name} is missing in {directory}: statements cannot be checked"
        )
    return etree.XMLSchema(etree.parse(str(path), etree.XMLParser(resolve_entities=False)))


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _ns(elem: etree._Element) -> str:
    """The "{namespace}" prefix of the element's tag: its children share it."""
    tag = str(elem.tag)
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def _children(elem: etree._Element, name: str) -> Iterator[etree._Element]:
    # iterchildren(tag) filters in C; a statement has some 30 elements per entry.
    return elem.iterchildren(_ns(elem) + name)  # type: ignore[no-any-return]


def _find(elem: etree._Element, *path: str) -> etree._Element | None:
    node: etree._Element | None = elem
    for name in path:
        if node is None:
            return None
        node = next(_children(node, name), None)
    return node


def _text(elem: etree._Element, *path: str) -> str:
    node = _find(elem, *path)
    return (node.text or "").strip() if node is not None else ""


def _parent(elem: etree._Element) -> etree._Element:
    parent = elem.getparent()
    assert parent is not None
    return parent


def _cents(text: str) -> int:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise StatementRefused(f"amount {text!r} is not a number") from None
    return int((amount * 100).to_integral_value())


def _sniff_version(path: Path) -> str:
    """The version from the root element, refusing a DOCTYPE before any validation."""
    context = etree.iterparse(
        str(path),
        events=("start",),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
    )
    try:
        _, root = next(iter(context))
    except etree.XMLSyntaxError as exc:
        raise StatementRefused(f"not well-formed XML: {exc}") from None
    except StopIteration:
        raise StatementRefused("the file is empty") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise StatementRefused("a DOCTYPE is not allowed in a bank statement")
    namespace = etree.QName(root).namespace or ""
    if _local(root.tag) != "Document" or namespace not in NAMESPACES:
        raise StatementRefused(f"not a CAMT.053 statement (001.02/04/08): {namespace or '-'}")
    return NAMESPACES[namespace]


# The paths of an entry that _entry reads, and the elements on the way to them: the
# walk goes only there, not through the bank's codes, charges and other details.
_READ = (
    "Amt",
    "CdtDbtInd",
    "Sts/Cd",
    "BookgDt/Dt",
    "BookgDt/DtTm",
    "AcctSvcrRef",
    "NtryRef",
    "NtryDtls/TxDtls/RltdPties/DbtrAcct/Id/IBAN",
    "NtryDtls/TxDtls/RltdPties/Dbtr/Nm",
    "NtryDtls/TxDtls/RltdPties/Dbtr/Pty/Nm",
    "NtryDtls/TxDtls/RmtInf",
)
_ON_THE_WAY = frozenset(p.rsplit("/", i)[0] for p in _READ for i in range(1, p.count("/") + 1))
_KEPT = frozenset(_READ) | _ON_THE_WAY


def _paths(elem: etree._Element, prefix: str, out: dict[str, etree._Element]) -> None:
    """Each element _entry reads, by its path of local names, following the first child
    of each name at every level (as _find does), so an entry is walked once, not per
    field."""
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction
        path = prefix + tag[tag.rfind("}") + 1 :]
        if path in _KEPT and path not in out:
            out[path] = child
            if path in _ON_THE_WAY:
                _paths(child, path + "/", out)


def _entry(elem: etree._Element, booked_fallback: str) -> Entry:
    paths: dict[str, etree._Element] = {}
    _paths(elem, "", paths)

    def text(path: str) -> str:
        node = paths.get(path)
        return (node.text or "").strip() if node is not None else ""

    amount = paths.get("Amt")
    assert amount is not None  # the schema requires it
    status = text("Sts") or text("Sts/Cd") or booked_fallback
    booking = text("BookgDt/Dt") or text("BookgDt/DtTm")[:10]
    tx = "NtryDtls/TxDtls/"
    iban = holder = structured = unstructured = ""
    if "NtryDtls/TxDtls" in paths:
        iban = text(tx + "RltdPties/DbtrAcct/Id/IBAN")
        holder = text(tx + "RltdPties/Dbtr/Nm") or text(tx + "RltdPties/Dbtr/Pty/Nm")
        remittance = paths.get(tx + "RmtInf")
        if remittance is not None:
            unstructured = " ".join((c.text or "").strip() for c in _children(remittance, "Ustrd"))
            for strd in _children(remittance, "Strd"):
                issuer = _text(strd, "CdtrRefInf", "Tp", "Issr")
                if issuer.upper() == "CUR":
                    structured = _text(strd, "CdtrRefInf", "Ref")
    reference = text("AcctSvcrRef") or text("NtryRef")
    if not reference:
        raise StatementRefused("an entry has no bank reference (AcctSvcrRef or NtryRef)")
    try:
        booking_date = dt.date.fromisoformat(booking)
    except ValueError:
        raise StatementRefused(f"entry {reference} has no booking date") from None
    return Entry(
        reference=reference,
        amount_cents=_cents(amount.text or ""),
        currency=amount.get("Ccy", ""),
        credit=text("CdtDbtInd") == "CRDT",
        booked=status == "BOOK",
        booking_date=booking_date,
        iban=iban.replace(" ", "").upper(),
        holder=holder,
        structured_reference=structured,
        unstructured=unstructured,
    )


def read_statement(path: Path) -> tuple[StatementHeader, Iterator[Entry]]:
    """The header of the statement and an iterator over its entries.

    The header is read before the first entry; iterating validates the rest and
    raises StatementRefused for anything the schema or these rules refuse.
    """
    version = _sniff_version(path)
    schema = _schema(str(schema_dir()), version)
    namespace = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"
    context = etree.iterparse(
        str(path),
        events=("end",),
        # Every element is still parsed and validated; only these are handed to Python.
        tag=[f"{{{namespace}}}{name}" for name in ("GrpHdr", "Acct", "Ntry", "Document")],
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        schema=schema,
    )
    events = iter(context)
    header: dict[str, str] = {"version": version}
    statements = 0

    last: list[str] = [""]

    def next_end() -> etree._Element | None:
        try:
            elem = next(events)[1]
        except StopIteration:
            # With resolve_entities=False libxml2 ends a truncated file quietly: only
            # the closing of the root element proves the whole file was read.
            if last[0] != "Document":
                raise StatementRefused(
                    "the statement is not valid CAMT.053: the file is truncated"
                ) from None
            return None
        except etree.XMLSyntaxError as exc:
            raise StatementRefused(f"the statement is not valid CAMT.053: {exc}") from None
        last[0] = _local(elem.tag)
        return elem

    # Read up to the first entry: group header, statement id and account.
    pending: etree._Element | None = None
    while (elem := next_end()) is not None:
        name = _local(elem.tag)
        if name == "GrpHdr":
            header["message_id"] = _text(elem, "MsgId")
        elif name == "Acct" and _local(_parent(elem).tag) == "Stmt":
            statements += 1
            if statements > 1:
                raise StatementRefused("one statement per file, please")
            header["iban"] = _text(elem, "Id", "IBAN").replace(" ", "").upper()
            header["currency"] = _text(elem, "Ccy")
            header["statement_id"] = _text(_parent(elem), "Id")
        elif name == "Ntry":
            pending = elem
            break
    if "iban" not in header:
        raise StatementRefused("the statement names no account (Stmt/Acct/Id/IBAN)")
    first = pending

    def entries() -> Iterator[Entry]:
        elem: etree._Element | None = first
        while elem is not None:
            if _local(elem.tag) == "Ntry":
                yield _entry(elem, "")
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                while parent is not None and elem.getprevious() is not None:
                    del parent[0]
            elem = next_end()

    return (
        StatementHeader(
            version=version,
            message_id=header.get("message_id", ""),
            statement_id=header.get("statement_id", ""),
            iban=header["iban"],
            currency=header.get("currency", ""),
        ),
        entries(),
    )


def open_upload(stream: IO[bytes], target: Path) -> Path:
    """Copy an uploaded file to `target` in chunks, so the parser can stream it."""
    with target.open("wb") as out:
        while chunk := stream.read(1 << 16):
            out.write(chunk)
    return target
