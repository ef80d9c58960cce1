"""Commands are schema-valid before they leave; answers go through a hardened parser."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from lxml import etree  # type: ignore[import-untyped]

from kluis.domains.epp import commands as cmd
from kluis.domains.epp.xml import XmlRefused, parse, validate

CONTACT = cmd.ContactData(
    handle="KL-T0000001",
    postal=cmd.PostalInfo(
        name="Alice de Vries",
        street=["Keizersgracht 1"],
        city="Amsterdam",
        postcode="1015CD",
        country="NL",
    ),
    email="alice@example.nl",
    voice="+31.201234567",
    legal_form="PERSOON",
)

BUILDERS: dict[str, Callable[[], etree._Element]] = {
    "hello": cmd.hello,
    "login": lambda: cmd.login(
        client_id="kluis-sidn",
        password="secret-pw",
        objects=["urn:ietf:params:xml:ns:domain-1.0"],
        extensions=["http://rxsd.domain-registry.nl/sidn-ext-epp-1.0"],
    ),
    "logout": cmd.logout,
    "poll req": cmd.poll_request,
    "poll ack": lambda: cmd.poll_ack("12"),
    "domain check": lambda: cmd.domain_check(["a.nl", "b.com"]),
    "domain info": lambda: cmd.domain_info("a.nl", auth_pw="Abc123"),
    "domain create": lambda: cmd.domain_create(
        name="a.nl",
        years=1,
        registrant="KL-1",
        auth_pw="Abc123",
        nameservers=["ns1.example.net"],
        admin="KL-2",
        tech="KL-2",
    ),
    "domain renew": lambda: cmd.domain_renew(
        name="a.nl", current_expiry=dt.date(2027, 1, 1), years=1
    ),
    "domain update": lambda: cmd.domain_update(
        name="a.nl",
        add_ns=["ns3.example.net"],
        remove_ns=["ns1.example.net"],
        add_status=["clientDeleteProhibited"],
        registrant="KL-3",
        auth_pw="New123",
    ),
    "transfer request": lambda: cmd.domain_transfer(op="request", name="a.com", auth_pw="x12345"),
    "transfer query": lambda: cmd.domain_transfer(op="query", name="a.com"),
    "transfer cancel": lambda: cmd.domain_transfer(op="cancel", name="a.com"),
    "domain delete": lambda: cmd.domain_delete("a.nl"),
    "contact create": lambda: cmd.contact_create(CONTACT, sidn=True),
    "contact info": lambda: cmd.contact_info("KL-1"),
    "contact update": lambda: cmd.contact_update(CONTACT, sidn=True),
    "contact delete": lambda: cmd.contact_delete("KL-1"),
    "host create": lambda: cmd.host_create("ns1.a.nl", [("v4", "192.0.2.1")]),
    "host check": lambda: cmd.host_check(["ns1.a.nl"]),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_command_kluis_builds_is_valid_against_the_vendored_schemas(name: str) -> None:
    validate(BUILDERS[name]())


def test_every_command_gets_its_own_cltrid() -> None:
    ids = {cmd.cltrid_of(cmd.domain_check(["a.nl"])) for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    ("label", "command"),
    [
        ("a contact handle over 16 characters", lambda: cmd.contact_info("K" * 17)),
        ("a domain create without auth info", None),
        ("a period in decades", None),
        ("a poll with another op", None),
    ],
)
def test_an_invalid_command_is_refused_with_the_schemas_reason(
    label: str, command: Callable[[], etree._Element] | None
) -> None:
    root = (
        command()
        if command
        else cmd.domain_create(name="a.nl", years=1, registrant="KL-1", auth_pw="Abc123")
    )
    if label == "a domain create without auth info":
        create = root.find(".//{urn:ietf:params:xml:ns:domain-1.0}create")
        assert create is not None
        create.remove(create[-1])
    elif label == "a period in decades":
        period = root.find(".//{urn:ietf:params:xml:ns:domain-1.0}period")
        assert period is not None
        period.set("unit", "d")
    elif label == "a poll with another op":
        root = cmd.poll_request()
        poll = root.find(".//{urn:ietf:params:xml:ns:epp-1.0}poll")
        assert poll is not None
        poll.set("op", "peek")
    with pytest.raises(XmlRefused, match="not valid EPP"):
        validate(root)


RESULT = (
    b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="1000">'
    b"<msg>ok</msg></result><trID><svTRID>s-1</svTRID></trID></response></epp>"
)


def test_a_plain_answer_parses() -> None:
    assert parse(RESULT).tag == "{urn:ietf:params:xml:ns:epp-1.0}epp"


@pytest.mark.parametrize(
    "hostile",
    [
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE epp [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><epp>&b;</epp>',
        # external entity (file read)
        b'<?xml version="1.0"?><!DOCTYPE epp [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<epp>&x;</epp>",
        # external DTD over the network
        b'<?xml version="1.0"?><!DOCTYPE epp SYSTEM "http://203.0.113.1/epp.dtd"><epp/>',
        # a plain DOCTYPE without anything in it
        b"<!DOCTYPE epp>" + RESULT,
    ],
)
def test_a_document_with_a_doctype_is_refused(hostile: bytes) -> None:
    with pytest.raises(XmlRefused, match="DOCTYPE"):
        parse(hostile)


@pytest.mark.parametrize(
    "broken",
    [
        b"<epp><response>",
        b"not xml at all",
        b"<epp xmlns='urn:ietf:params:xml:ns:epp-1.0'>&undeclared;</epp>",
        b"<html/>",
    ],
)
def test_a_malformed_or_foreign_document_is_refused(broken: bytes) -> None:
    with pytest.raises(XmlRefused):
        parse(broken)
