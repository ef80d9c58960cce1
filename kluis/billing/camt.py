"""Reading CAMT.053 bank statements (versions 001.02, .03, .04 and .08), streaming.

The file is parsed once with lxml's iterparse, validating against the ISO 20022
schema of its version while it streams; each entry is handed on and cleared, so a
statement of 100,000 entries does not sit in memory. No DTD, no entities and no
network: a DOCTYPE is refused outright (no XXE, no billion laughs).

A file may hold several statements (several days, several accounts): the reader
yields each statement's header, then that statement's entries. An entry holds one
part per transaction (`TxDtls`): a batch entry has several, each with its own
amount, payer and remittance information; an entry without details has one part
made of what the entry itself says.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from lxml import etree  # type: ignore[import-untyped]

from kluis.formats import long_date

VERSIONS = ("02", "03", "04", "08")
NAMESPACES = {f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{v}": v for v in VERSIONS}
# Banks in the Netherlands book in Dutch time: a DtTm is read as the calendar date there.
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class StatementRefused(Exception):
    """The file is not a statement we import; nothing of it was imported.

    The message is Dutch (English in the English interface): it is shown to finance
    as it is, so it never holds a path or a parser's own words.
    """

    def __init__(self, message: Any, **params: object) -> None:
        super().__init__(message, params)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


@dataclass(frozen=True)
class StatementHeader:
    version: str
    message_id: str
    statement_id: str
    iban: str  # "" when the account is given otherwise (other_id)
    other_id: str  # Acct/Id/Othr/Id, when the account has no IBAN
    currency: str


# Part and Entry are NamedTuples rather than frozen dataclasses: as immutable, but a
# statement makes 100,000 of each, and a frozen dataclass's __init__ (one
# object.__setattr__ per field) took four times as long as a tuple's.


class Part(NamedTuple):
    """One transaction of an entry: who paid, how much, and what they wrote."""

    amount_cents: int | None  # None: the transaction states no amount in the entry's currency
    iban: str
    holder: str
    references: tuple[str, ...]  # every Strd/CdtrRefInf/Ref, any issuer, as given
    texts: tuple[str, ...]  # Ustrd, AddtlRmtInf, RfrdDocInf/Nb, AddtlTxInf, AddtlNtryInf
    end_to_end: str  # Refs/EndToEndId: not ours to match on, but part of a fingerprint


class Entry(NamedTuple):
    bank_reference: str  # AcctSvcrRef, else NtryRef, else ""
    amount_cents: int
    currency: str
    credit: bool
    booked: bool
    booking_date: dt.date
    value_date: str  # as given, for the fingerprint
    parts: tuple[Part, ...]

    @property
    def label(self) -> str:
        """How a message names this entry to finance."""
        return (
            self.bank_reference or f"{long_date(self.booking_date)} € {self.amount_cents / 100:.2f}"
        )


def schema_dir() -> Path:
    return Path(settings.KLUIS_ISO20022_DIR)


@functools.cache
def _schema(directory: str, version: str) -> etree.XMLSchema:
    path = Path(directory) / f"camt.053.001.{version}.xsd"
    if not path.is_file():
        raise StatementRefused(
            _("het schema van CAMT.053.001.%(version)s ontbreekt in deze installatie"),
            version=version,
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


def _find(elem: etree._Element | None, *path: str) -> etree._Element | None:
    node: etree._Element | None = elem
    for name in path:
        if node is None:
            return None
        node = next(_children(node, name), None)
    return node


def _text(elem: etree._Element | None, *path: str) -> str:
    node = _find(elem, *path)
    return (node.text or "").strip() if node is not None else ""


def _parent(elem: etree._Element) -> etree._Element:
    parent = elem.getparent()
    assert parent is not None
    return parent


def _cents(text: str) -> int:
    whole, dot, fraction = text.partition(".")
    if dot and len(fraction) == 2 and whole.isdigit() and fraction.isdigit():
        # How banks write nearly every amount ("107.86"): the same cents as below,
        # without a Decimal per entry.
        return int(whole) * 100 + int(fraction)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise StatementRefused(_("het bedrag «%(amount)s» is geen getal"), amount=text) from None
    return int((amount * 100).to_integral_value())


def calendar_date(text: str) -> dt.date:
    """The Dutch calendar date of an ISODate or ISODateTime.

    A time with an offset (or Z) is converted to Europe/Amsterdam; a time without one
    is the bank's local time already. So 2026-12-31T23:30:00Z is 1 January 2027.
    """
    text = text.strip()
    if "T" not in text:
        return dt.date.fromisoformat(text[:10])
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(AMSTERDAM).date()


def _sniff_version(path: Path) -> str:
    """The version from the root element, refusing a DOCTYPE before any validation."""
    if path.stat().st_size == 0:
        raise StatementRefused(_("het bestand is leeg"))
    context = etree.iterparse(
        str(path),
        events=("start",),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
    )
    try:
        _event, root = next(iter(context))
    except etree.XMLSyntaxError:
        raise StatementRefused(_("het bestand is geen goedgevormde XML")) from None
    except StopIteration:
        raise StatementRefused(_("het bestand is leeg")) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise StatementRefused(_("een DOCTYPE is in een bankafschrift niet toegestaan"))
    namespace = etree.QName(root).namespace or ""
    if _local(root.tag) != "Document" or namespace not in NAMESPACES:
        raise StatementRefused(
            _("het bestand is geen CAMT.053-afschrift (001.02, .03, .04 of .08)")
        )
    return NAMESPACES[namespace]


def _kids(elem: etree._Element, skip: int) -> Iterator[tuple[str, etree._Element]]:
    """The element children of `elem` by local name (`skip`: the "{namespace}" length)."""
    for child in elem:
        tag = child.tag
        if isinstance(tag, str):  # not a comment or processing instruction
            yield tag[skip:], child


def _strip(elem: etree._Element) -> str:
    return (elem.text or "").strip()


@functools.cache
def _path(namespace: str, names: tuple[str, ...]) -> str:
    return "/".join(namespace + name for name in names)


def _first(elem: etree._Element | None, skip: int, *path: str) -> etree._Element | None:
    """The first element down `path` of local names (lxml's find, in C)."""
    if elem is None:
        return None
    tag = elem.tag
    return elem.find(_path(tag[:skip] if skip else "", path))


def _first_text(elem: etree._Element | None, skip: int, *path: str) -> str:
    node = _first(elem, skip, *path)
    return _strip(node) if node is not None else ""


def _amount_in(elem: etree._Element | None, currency: str) -> int | None:
    """The amount of an Amt element, if it is in `currency`."""
    if elem is None or elem.get("Ccy", "") != currency:
        return None
    return _cents(elem.text or "")


# What a Part keeps of a TxDtls, by the path of local names below it. One compiled
# XPath (in C) hands over just these elements, in document order; the path ends tell
# them apart. An element elsewhere (e.g. under SplmtryData) is not on any path.
_PART_PATHS = {
    ("Amt",): "amount",
    ("AmtDtls", "TxAmt", "Amt"): "tx_amount",
    ("AmtDtls", "InstdAmt", "Amt"): "instructed_amount",
    ("Refs", "EndToEndId"): "end_to_end",
    ("RltdPties", "Dbtr", "Nm"): "holder",
    ("RltdPties", "Dbtr", "Pty", "Nm"): "party_holder",
    ("RltdPties", "DbtrAcct", "Id", "IBAN"): "iban",
    ("RmtInf", "Ustrd"): "text",
    ("RmtInf", "Strd", "CdtrRefInf", "Ref"): "reference",
    ("RmtInf", "Strd", "RfrdDocInf", "Nb"): "text",
    ("RmtInf", "Strd", "AddtlRmtInf"): "text",
    ("AddtlTxInf",): "text",
}


@functools.cache
def _part_paths(namespace: str) -> tuple[etree.XPath, dict[tuple[str, str], str]]:
    """The XPath of the paths above and what each (parent tag, tag) is, for a namespace
    ("{…}"); the pair tells the paths apart, as no two end alike."""
    ends = {
        (namespace + ("TxDtls", *path)[-2], namespace + path[-1]): what
        for path, what in _PART_PATHS.items()
    }
    assert len(ends) == len(_PART_PATHS)
    uri = namespace.strip("{}")
    prefix = "n:" if uri else ""
    union = " | ".join(prefix + ("/" + prefix).join(path) for path in _PART_PATHS)
    return etree.XPath(union, namespaces={"n": uri} if uri else None), ends


def _part(
    tx: etree._Element, skip: int, currency: str, whole: int | None = None, note: str = ""
) -> Part:
    """One TxDtls: its amount, payer, references and remittance texts, in document order.

    `whole`: the entry's amount, when this is its only transaction (the amount is then
    the entry's, whatever the transaction says); `note`: the entry's AddtlNtryInf,
    added to the texts of its only transaction.
    """
    select, ends = _part_paths(str(tx.tag)[:skip])
    texts: list[str] = []
    references: list[str] = []
    found: dict[str, etree._Element] = {}
    for node in select(tx):
        what = ends[node.getparent().tag, node.tag]
        if what == "text":
            texts.append(_strip(node))
        elif what == "reference":
            reference = _strip(node)
            if reference:
                references.append(reference)
        else:
            found.setdefault(what, node)
    amount: int | None = whole
    if whole is None:
        for what in ("amount", "tx_amount", "instructed_amount"):
            amount = _amount_in(found.get(what), currency)
            if amount is not None:
                break
    if note:
        texts.append(note)
    holder = _strip(found["holder"]) if "holder" in found else ""
    if not holder and "party_holder" in found:
        holder = _strip(found["party_holder"])
    iban = _strip(found["iban"]) if "iban" in found else ""
    return Part(
        amount_cents=amount,
        iban=iban.replace(" ", "").upper(),
        holder=holder,
        references=tuple(references),
        texts=tuple(t for t in texts if t),
        end_to_end=_strip(found["end_to_end"]) if "end_to_end" in found else "",
    )


def _date_text(elem: etree._Element, skip: int) -> str:
    """A DateAndDateTimeChoice: its Dt, else its DtTm, as given."""
    date = moment = ""
    for child in elem:
        tag = child.tag
        if isinstance(tag, str):
            if tag[skip:] == "Dt":
                date = date or _strip(child)
            elif tag[skip:] == "DtTm":
                moment = moment or _strip(child)
    return date or moment


# The children of an Ntry that an entry reads.
_ENTRY_CHILDREN = (
    "Amt", "CdtDbtInd", "Sts", "BookgDt", "ValDt", "AcctSvcrRef", "NtryRef", "NtryDtls",
    "AddtlNtryInf",
)  # fmt: skip


@functools.cache
def _entry_children(namespace: str) -> dict[str, str]:
    """Each child an entry reads, by its full tag ("{namespace}Amt"), to its local name."""
    return {namespace + name: name for name in _ENTRY_CHILDREN}


def _entry(elem: etree._Element) -> Entry:
    """One Ntry, walked once over its own children and then each TxDtls."""
    tag = str(elem.tag)
    skip = tag.index("}") + 1 if tag.startswith("{") else 0
    names = _entry_children(tag[:skip])
    amount: etree._Element | None = None
    status = booking = value = account_ref = entry_ref = note = side = ""
    txs: list[etree._Element] = []
    for child in elem:
        # A child read by its full tag, without cutting the namespace off each one; a
        # comment's or processing instruction's tag is a function, and is not found.
        name = names.get(child.tag)
        if name is None:
            continue
        if name == "Amt":
            amount = child
        elif name == "CdtDbtInd":
            side = _strip(child)
        elif name == "Sts":
            status = _strip(child) or _first_text(child, skip, "Cd")
        elif name == "BookgDt":
            booking = _date_text(child, skip)
        elif name == "ValDt":
            value = _date_text(child, skip)
        elif name == "AcctSvcrRef":
            account_ref = _strip(child)
        elif name == "NtryRef":
            entry_ref = _strip(child)
        elif name == "NtryDtls":
            txs += child.iterchildren(tag[:skip] + "TxDtls")
        elif name == "AddtlNtryInf":
            note = _strip(child)
    if amount is None:
        # The schema requires it, but lxml may hand over an entry before it reports
        # the schema error found in the same chunk of the file.
        raise StatementRefused(
            _("het afschrift voldoet niet aan het CAMT.053-schema (bij %(element)s)"),
            element="Amt",
        )
    currency = amount.get("Ccy", "")
    total = _cents(amount.text or "")
    reference = account_ref or entry_ref
    try:
        booking_date = calendar_date(booking or value)
    except ValueError:
        raise StatementRefused(
            _("post %(entry)s heeft geen boekdatum"), entry=reference or "?"
        ) from None
    parts: tuple[Part, ...]
    if len(txs) == 1:
        # One transaction: the entry's own amount and note are its too.
        parts = (_part(txs[0], skip, currency, whole=total, note=note),)
    elif not txs:
        parts = (Part(total, "", "", (), (note,) if note else (), ""),)
    else:
        parts = tuple(_part(tx, skip, currency) for tx in txs)
    return Entry(
        bank_reference=reference,
        amount_cents=total,
        currency=currency,
        credit=side == "CRDT",
        booked=status == "BOOK",
        booking_date=booking_date,
        value_date=value,
        parts=parts,
    )


def read_statement(path: Path, schemas: Path | None = None) -> Iterator[StatementHeader | Entry]:
    """Each statement's header, then its entries, in the order of the file.

    Iterating validates the file against its schema as it goes and raises
    StatementRefused for anything the schema or these rules refuse; only the closing
    of the root element proves that the whole file was read. `schemas`: the schema
    directory, when not the configured one (the reading process of kluis.billing.
    camt_ahead has no settings).
    """
    version = _sniff_version(path)
    schema = _schema(str(schemas or schema_dir()), version)
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
    message_id = ""
    last = ""
    events = iter(context)
    while True:
        try:
            elem = next(events)[1]
        except StopIteration:
            # With resolve_entities=False libxml2 ends a truncated file quietly.
            if last != "Document":
                raise StatementRefused(
                    _("het afschrift is afgebroken: het bestand is niet compleet")
                ) from None
            return
        except etree.XMLSyntaxError as exc:
            element = re.search(r"Element '(?:\{[^}]*\})?([\w.-]+)'", str(exc))
            raise StatementRefused(
                _("het afschrift voldoet niet aan het CAMT.053-schema (bij %(element)s)"),
                element=element.group(1) if element else "?",
            ) from None
        last = name = _local(elem.tag)
        if name == "GrpHdr":
            message_id = _text(elem, "MsgId")
        elif name == "Acct" and _local(_parent(elem).tag) == "Stmt":
            yield StatementHeader(
                version=version,
                message_id=message_id,
                statement_id=_text(_parent(elem), "Id"),
                iban=_text(elem, "Id", "IBAN").replace(" ", "").upper(),
                other_id=_text(elem, "Id", "Othr", "Id"),
                currency=_text(elem, "Ccy"),
            )
        elif name == "Ntry":
            yield _entry(elem)
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]


def open_upload(stream: IO[bytes], target: Path) -> Path:
    """Copy an uploaded file to `target` in chunks, so the parser can stream it."""
    with target.open("wb") as out:
        while chunk := stream.read(1 << 16):
            out.write(chunk)
    return target
