"""The vendored EPP schemas, validation before sending, and the hardened parser.

Every command is checked against the schemas of RFC 5730 to 5733, RFC 3915 (grace
periods) and SIDN's extension (kluis/schemas/epp/) before it leaves, so a client bug
is caught here and not by a registry. What comes back is parsed without a DTD,
without entities, without the network, and a document with a DOCTYPE is refused
outright.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

import kluis.schemas

EPP = "urn:ietf:params:xml:ns:epp-1.0"
EPPCOM = "urn:ietf:params:xml:ns:eppcom-1.0"
DOMAIN = "urn:ietf:params:xml:ns:domain-1.0"
CONTACT = "urn:ietf:params:xml:ns:contact-1.0"
HOST = "urn:ietf:params:xml:ns:host-1.0"
SIDN = "http://rxsd.domain-registry.nl/sidn-ext-epp-1.0"
# RFC 3915: the registry grace periods, and restoring a deleted domain.
RGP = "urn:ietf:params:xml:ns:rgp-1.0"
NS = {"epp": EPP, "domain": DOMAIN, "contact": CONTACT, "host": HOST, "sidn": SIDN, "rgp": RGP}

SCHEMA_DIR = Path(kluis.schemas.__file__).parent / "epp"
_SCHEMA_FILES = {
    EPP: "epp-1.0.xsd",
    DOMAIN: "domain-1.0.xsd",
    CONTACT: "contact-1.0.xsd",
    HOST: "host-1.0.xsd",
    SIDN: "sidn-ext-epp-1.0.xsd",
    RGP: "rgp-1.0.xsd",
}


class XmlRefused(Exception):
    """A document we will not read (malformed, a DOCTYPE) or not send (not schema-valid)."""


@functools.cache
def schema() -> etree.XMLSchema:
    # One schema that imports them all, so <any namespace="##other"/> in epp-1.0
    # finds the object mappings and validates them strictly.
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{name}"/>'
        for ns, name in _SCHEMA_FILES.items()
    )
    wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    doc = etree.fromstring(wrapper.encode(), parser, base_url=(SCHEMA_DIR / "all.xsd").as_uri())
    return etree.XMLSchema(doc)


_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers keep state; one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_blank_text=True,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def parse(data: bytes) -> etree._Element:
    """Parse one EPP message from a peer; XmlRefused for anything but plain XML."""
    # Refused before libxml2 reads a declaration: an internal subset is where entity
    # expansion attacks live, and EPP has no use for a DTD.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmlRefused("a document with a DOCTYPE or an entity declaration is refused")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise XmlRefused("a document with a DOCTYPE is refused")
    if root.tag != f"{{{EPP}}}epp":
        raise XmlRefused(f"the root element is {root.tag}, not epp")
    return root


def validate(root: etree._Element) -> None:
    """XmlRefused, naming the first problem, unless `root` is valid EPP."""
    checker = schema()
    if not checker.validate(root):
        error = checker.error_log.last_error
        raise XmlRefused(f"not valid EPP: {error.message if error else 'unknown error'}")


def serialize(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=False)
    return data
