"""SEPA credit transfers (pain.001.001.03) for refunds, validated against the XSD.

The file is built with lxml and checked against the schema before anyone gets it:
an invalid file is a bug, never a download.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from lxml import etree  # type: ignore[import-untyped]

from kluis.policy.loader import current_policy

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"


class SepaError(Exception):
    """The credit-transfer file could not be made valid."""


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    amount_cents: int
    iban: str
    name: str
    remittance: str


@functools.cache
def _schema(directory: str) -> etree.XMLSchema:
    path = Path(directory) / "pain.001.001.03.xsd"
    if not path.is_file():
        raise SepaError(f"the schema {path.name} is missing in {directory}")
    return etree.XMLSchema(etree.parse(str(path), etree.XMLParser(resolve_entities=False)))


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attrib: str
) -> etree._Element:
    elem = etree.SubElement(parent, f"{{{NS}}}{tag}", attrib)
    if text is not None:
        elem.text = text
    return elem


def _clip(text: str, length: int) -> str:
    return " ".join(text.split())[:length] or "-"


@dataclass(frozen=True)
class Header:
    """What a file says besides its transfers; kept, so the same file can be made again."""

    message_id: str
    created: dt.datetime
    execution: dt.date
    debtor_iban: str
    debtor_name: str


def header_now(message_id: str, created: dt.datetime) -> Header:
    return Header(
        message_id=message_id,
        created=created,
        execution=timezone.localdate(created),
        debtor_iban=settings.KLUIS_IBANS[0],
        debtor_name=_clip(current_policy().controller.name, 70),
    )


def pain001(*, header: Header, transfers: list[Transfer]) -> bytes:
    message_id, execution = header.message_id, header.execution
    total = sum(t.amount_cents for t in transfers)
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    initiation = _sub(root, "CstmrCdtTrfInitn")
    group = _sub(initiation, "GrpHdr")
    _sub(group, "MsgId", message_id[:35])
    _sub(group, "CreDtTm", timezone.localtime(header.created).strftime("%Y-%m-%dT%H:%M:%S"))
    _sub(group, "NbOfTxs", str(len(transfers)))
    _sub(group, "CtrlSum", _amount(total))
    _sub(_sub(group, "InitgPty"), "Nm", header.debtor_name)
    info = _sub(initiation, "PmtInf")
    _sub(info, "PmtInfId", message_id[:35])
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "NbOfTxs", str(len(transfers)))
    _sub(info, "CtrlSum", _amount(total))
    _sub(_sub(_sub(info, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    _sub(info, "ReqdExctnDt", execution.isoformat())
    _sub(_sub(info, "Dbtr"), "Nm", header.debtor_name)
    _sub(_sub(_sub(info, "DbtrAcct"), "Id"), "IBAN", header.debtor_iban)
    _sub(_sub(_sub(_sub(info, "DbtrAgt"), "FinInstnId"), "Othr"), "Id", "NOTPROVIDED")
    _sub(info, "ChrgBr", "SLEV")
    for transfer in transfers:
        tx = _sub(info, "CdtTrfTxInf")
        _sub(_sub(tx, "PmtId"), "EndToEndId", transfer.end_to_end_id[:35])
        _sub(_sub(tx, "Amt"), "InstdAmt", _amount(transfer.amount_cents), Ccy="EUR")
        _sub(_sub(tx, "Cdtr"), "Nm", _clip(transfer.name, 70))
        _sub(_sub(_sub(tx, "CdtrAcct"), "Id"), "IBAN", transfer.iban)
        _sub(_sub(tx, "RmtInf"), "Ustrd", _clip(transfer.remittance, 140))
    schema = _schema(str(settings.KLUIS_ISO20022_DIR))
    if not schema.validate(root):
        raise SepaError(f"pain.001 does not validate: {schema.error_log.last_error}")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
