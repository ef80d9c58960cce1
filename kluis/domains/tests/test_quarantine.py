"""SIDN's quarantine at the local registry and in the client: a deleted .nl waits 40 days,
and the registrar that deleted it takes it back with SIDN's own domainCancelDelete."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree  # type: ignore[import-untyped]

from kluis.domains import epp_local
from kluis.domains.epp import commands as cmd
from kluis.domains.epp.client import EppClient, EppError, connect_and_login
from kluis.domains.epp.framing import encode_frame, read_frame
from kluis.domains.epp.xml import SIDN, XmlRefused, parse, serialize, validate
from kluis.domains.registries import REGISTRIES
from kluis.domains.tests.conftest import endpoint_for, taken_elsewhere
from kluis.domains.tests.test_client import code_of, setup_domain
from kluis.domains.tests.test_rgp import Clock


@pytest.fixture
def clock(registry_server: epp_local.Running) -> Clock:
    clock = Clock()
    registry_server.registry.clock = clock
    return clock


def test_the_cancel_delete_command_is_sidns_and_checked_against_its_schema() -> None:
    root = cmd.domain_cancel_delete("terug.nl")
    validate(root)
    # A command of the extension: no <epp:command>, SIDN's own clTRID.
    assert root[0].tag == "{urn:ietf:params:xml:ns:epp-1.0}extension"
    command = root[0][0]
    assert command.tag == f"{{{SIDN}}}command"
    assert [etree.QName(e).localname for e in command] == ["domainCancelDelete", "clTRID"]
    assert cmd.cltrid_of(root) == command[1].text != ""
    command[0][0].tag = f"{{{SIDN}}}domain"
    with pytest.raises(XmlRefused):
        validate(root)  # the vendored sidn-ext-epp schema is in force


def test_the_client_sends_no_invalid_cancel_delete(
    epp_client: EppClient, registry_server: epp_local.Running
) -> None:
    with pytest.raises(EppError, match="invalid command"):
        epp_client.domain_cancel_delete("")  # an empty name is no labelType
    assert "domain:cancelDelete" not in registry_server.registry.received


def test_a_deleted_nl_is_in_quarantine_and_taken_back_with_its_old_expiry(
    epp_client: EppClient, registry_server: epp_local.Running, clock: Clock
) -> None:
    setup_domain(epp_client, "quarantaine.nl")
    before = epp_client.domain_info("quarantaine.nl")
    epp_client.domain_delete("quarantaine.nl")
    info = epp_client.domain_info("quarantaine.nl")
    assert info.statuses == ("pendingDelete",) and info.rgp_statuses == ()
    (check,) = epp_client.domain_check(["quarantaine.nl"])
    assert not check.available and check.reason == "In quarantine"
    # Not renewed by SIDN while in quarantine, not deletable or restorable by RFC 3915.
    assert code_of(lambda: epp_client.domain_delete("quarantaine.nl")) == 2304
    assert code_of(lambda: epp_client.domain_restore("quarantaine.nl")) == 2103

    clock.advance(REGISTRIES["sidn"].redemption_days - 1)
    answer = epp_client.domain_cancel_delete("quarantaine.nl")
    assert answer.code == 1000 and answer.cltrid.startswith("kluis-")  # its own clTRID
    info = epp_client.domain_info("quarantaine.nl")
    assert info.statuses == ("ok",)
    assert (info.expires, info.nameservers, info.registrant) == (
        before.expires,
        before.nameservers,
        before.registrant,
    )
    assert code_of(lambda: epp_client.domain_cancel_delete("quarantaine.nl")) == 2304


def test_an_expiry_passed_in_quarantine_is_renewed_by_sidn_from_it_once_taken_back(
    epp_client: EppClient, registry_server: epp_local.Running, clock: Clock
) -> None:
    setup_domain(epp_client, "laat-terug.nl")
    expires = epp_client.domain_info("laat-terug.nl").expires
    assert expires is not None
    epp_client.domain_delete("laat-terug.nl")
    clock.now = expires + dt.timedelta(days=10)  # 40 days not over: deleted in time
    record = registry_server.registry.domains["laat-terug.nl"]
    record.deleted_at = epp_local._iso(expires - dt.timedelta(days=2))
    epp_client.domain_cancel_delete("laat-terug.nl")
    renewed = epp_client.domain_info("laat-terug.nl").expires
    assert renewed == expires.replace(year=expires.year + 1)


def test_cancel_delete_is_refused_after_the_quarantine_for_others_and_elsewhere(
    epp_client: EppClient, registry_server: epp_local.Running, clock: Clock
) -> None:
    setup_domain(epp_client, "te-laat.nl")
    taken_elsewhere(registry_server, "van-een-ander.nl")
    other = connect_and_login(endpoint_for(registry_server, epp_local.OTHER_REGISTRAR))
    try:
        other.domain_delete("van-een-ander.nl")
        # Another registrar's name in quarantine: 2201; its own registrar may.
        assert code_of(lambda: epp_client.domain_cancel_delete("van-een-ander.nl")) == 2201
        assert other.domain_cancel_delete("van-een-ander.nl").code == 1000
    finally:
        other.logout()
    # A name nobody holds: 2303; not a .nl: 2306.
    assert code_of(lambda: epp_client.domain_cancel_delete("nooit-gehad.nl")) == 2303
    assert code_of(lambda: epp_client.domain_cancel_delete("ander.com")) == 2306
    # After the quarantine the name is purged: 2303, and free for anyone.
    epp_client.domain_delete("te-laat.nl")
    clock.advance(REGISTRIES["sidn"].redemption_days)
    assert code_of(lambda: epp_client.domain_cancel_delete("te-laat.nl")) == 2303
    assert epp_client.domain_check(["te-laat.nl"])[0].available


def test_cancel_delete_needs_sidns_extension_at_login(
    registry_server: epp_local.Running, clock: Clock
) -> None:
    plain = connect_and_login(endpoint_for(registry_server, sidn=False))
    try:
        assert code_of(lambda: plain.domain_cancel_delete("zonder.nl")) == 2103
    finally:
        plain.logout()


def test_the_local_registry_validates_a_cancel_delete_against_the_schema(
    epp_client: EppClient, registry_server: epp_local.Running
) -> None:
    """Sent past the client's own check: the registry answers 2001 and carries out
    nothing."""
    setup_domain(epp_client, "ongeldig.nl")
    epp_client.domain_delete("ongeldig.nl")
    root = cmd.domain_cancel_delete("ongeldig.nl")
    name = root.find(f".//{{{SIDN}}}name")
    name.addprevious(etree.Element(f"{{{SIDN}}}reason"))
    sock = epp_client._sock
    assert sock is not None
    sock.sendall(encode_frame(serialize(root)))
    answer = parse(read_frame(sock, max_size=1 << 20))
    assert answer.find(".//{urn:ietf:params:xml:ns:epp-1.0}result").get("code") == "2001"
    assert registry_server.registry.domains["ongeldig.nl"].deleted_at != ""
