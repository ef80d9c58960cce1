"""RFC 3915 at the local registry and in the client: a deleted .com waits in its
redemption period, can be restored there, and is purged after it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from lxml import etree  # type: ignore[import-untyped]

from kluis.domains import epp_local
from kluis.domains.epp import commands as cmd
from kluis.domains.epp import responses as r
from kluis.domains.epp.client import EppClient, connect_and_login
from kluis.domains.epp.xml import RGP, XmlRefused, parse, validate
from kluis.domains.tests.conftest import endpoint_for
from kluis.domains.tests.test_client import code_of, setup_domain

REPORT = cmd.RestoreReport(
    pre_data="Domain Name: herstel.com",
    post_data="Domain Name: herstel.com",
    deleted_at=dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC),
    restored_at=dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC),
    reason="Renewal paid late by the registrant.",
    statements=("Not restored for the registrar itself.", "True to our knowledge."),
)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, days: int) -> None:
        self.now += dt.timedelta(days=days)


@pytest.fixture
def clock(registry_server: epp_local.Running) -> Clock:
    clock = Clock()
    registry_server.registry.clock = clock
    return clock


@pytest.fixture
def rgp_client(registry_server: epp_local.Running) -> Iterator[EppClient]:
    endpoint = dataclasses.replace(
        endpoint_for(registry_server, "kluis-verisign", sidn=False), extensions=(RGP,)
    )
    c = connect_and_login(endpoint)
    yield c
    c.logout()


def test_the_restore_command_is_rfc_3915s_and_checked_against_its_schema() -> None:
    root = cmd.domain_restore("voorbeeld.com")
    validate(root)
    update = root.find(".//{urn:ietf:params:xml:ns:domain-1.0}update")
    assert [etree.QName(e).localname for e in update] == ["name", "chg"]
    assert len(update[1]) == 0  # an empty <domain:chg/>: nothing else changes
    restore = root.find(f".//{{{RGP}}}update/{{{RGP}}}restore")
    assert restore.get("op") == "request" and len(restore) == 0
    restore.set("op", "undo")
    with pytest.raises(XmlRefused):
        validate(root)  # the vendored rgp schema is in force


def test_a_deleted_com_is_in_redemption_restorable_once_and_active_again(
    rgp_client: EppClient, registry_server: epp_local.Running, clock: Clock
) -> None:
    setup_domain(rgp_client, "herstel.com")
    expires = rgp_client.domain_info("herstel.com").expires
    rgp_client.domain_delete("herstel.com")
    info = rgp_client.domain_info("herstel.com")
    assert info.statuses == ("pendingDelete",) and info.rgp_statuses == ("redemptionPeriod",)
    assert not rgp_client.domain_check(["herstel.com"])[0].available
    assert (
        code_of(
            lambda: rgp_client.domain_renew(
                name="herstel.com", current_expiry=expires.date(), years=1
            )
        )
        == r.STATUS_PROHIBITS
    )
    clock.advance(29)
    # A report before any request is refused (RFC 3915 §3.2: only pendingRestore).
    assert code_of(lambda: rgp_client.domain_restore_report("herstel.com", REPORT)) == (
        r.STATUS_PROHIBITS
    )
    answer = rgp_client.domain_restore("herstel.com")
    assert answer.code == r.OK and r.rgp_statuses(answer) == ("pendingRestore",)
    # Requested, not restored: it waits for the report, still pendingDelete.
    info = rgp_client.domain_info("herstel.com")
    assert info.statuses == ("pendingDelete",) and info.rgp_statuses == ("pendingRestore",)
    assert code_of(lambda: rgp_client.domain_restore("herstel.com")) == r.STATUS_PROHIBITS
    one_statement = dataclasses.replace(REPORT, statements=(REPORT.statements[0], " "))
    assert (
        code_of(lambda: rgp_client.domain_restore_report("herstel.com", one_statement))
        == r.PARAMETER_POLICY
    )
    assert rgp_client.domain_restore_report("herstel.com", REPORT).code == r.OK
    info = rgp_client.domain_info("herstel.com")
    assert info.statuses == ("ok",) and info.rgp_statuses == () and info.expires == expires
    # An active domain is not restored again.
    assert code_of(lambda: rgp_client.domain_restore("herstel.com")) == r.STATUS_PROHIBITS
    assert code_of(lambda: rgp_client.domain_restore_report("herstel.com", REPORT)) == (
        r.STATUS_PROHIBITS
    )


def test_a_restore_request_without_its_report_falls_back_to_redemption(
    rgp_client: EppClient, clock: Clock
) -> None:
    setup_domain(rgp_client, "geen-rapport.com")
    rgp_client.domain_delete("geen-rapport.com")
    rgp_client.domain_restore("geen-rapport.com")
    clock.advance(8)
    info = rgp_client.domain_info("geen-rapport.com")
    assert info.statuses == ("pendingDelete",) and info.rgp_statuses == ("redemptionPeriod",)
    assert code_of(lambda: rgp_client.domain_restore_report("geen-rapport.com", REPORT)) == (
        r.STATUS_PROHIBITS
    )


def test_the_report_is_rfc_3915s_and_checked_against_its_schema() -> None:
    root = cmd.domain_restore_report("voorbeeld.com", REPORT)
    validate(root)
    restore = root.find(f".//{{{RGP}}}update/{{{RGP}}}restore")
    assert restore.get("op") == "report"
    report = restore.find(f"{{{RGP}}}report")
    assert [etree.QName(e).localname for e in report] == [
        "preData", "postData", "delTime", "resTime", "resReason", "statement", "statement"
    ]  # fmt: skip
    assert report.find(f"{{{RGP}}}delTime").text == "2026-12-01T10:00:00.0Z"


def test_after_the_redemption_period_no_restore_and_then_the_name_is_free(
    rgp_client: EppClient, clock: Clock
) -> None:
    setup_domain(rgp_client, "te-laat.com")
    rgp_client.domain_delete("te-laat.com")
    clock.advance(31)
    assert rgp_client.domain_info("te-laat.com").rgp_statuses == ("pendingDelete",)
    assert code_of(lambda: rgp_client.domain_restore("te-laat.com")) == r.STATUS_PROHIBITS
    clock.advance(5)
    assert code_of(lambda: rgp_client.domain_info("te-laat.com")) == r.OBJECT_DOES_NOT_EXIST
    assert rgp_client.domain_check(["te-laat.com"])[0].available
    assert code_of(lambda: rgp_client.domain_restore("te-laat.com")) == r.OBJECT_DOES_NOT_EXIST


def test_a_registry_without_grace_periods_deletes_at_once_and_restores_nothing(
    epp_client: EppClient, clock: Clock
) -> None:
    setup_domain(epp_client, "weg.be")
    epp_client.domain_delete("weg.be")
    assert code_of(lambda: epp_client.domain_info("weg.be")) == r.OBJECT_DOES_NOT_EXIST
    assert code_of(lambda: epp_client.domain_restore("weg.be")) == 2103
    # SIDN keeps a deleted .nl in its quarantine, but takes no RFC 3915 restore.
    epp_client.domain_create(
        name="quarantaine.nl",
        years=1,
        registrant="KL-1",
        auth_pw="Token12345",
        admin="KL-ADM",
        tech="KL-ADM",
    )
    epp_client.domain_delete("quarantaine.nl")
    assert code_of(lambda: epp_client.domain_restore("quarantaine.nl")) == 2103


def test_only_the_sponsor_restores(
    rgp_client: EppClient, registry_server: epp_local.Running, clock: Clock
) -> None:
    setup_domain(rgp_client, "van-mij.com")
    rgp_client.domain_delete("van-mij.com")
    other = connect_and_login(
        dataclasses.replace(
            endpoint_for(registry_server, "other-registrar", sidn=False), extensions=(RGP,)
        )
    )
    try:
        assert code_of(lambda: other.domain_restore("van-mij.com")) == r.AUTHORIZATION
    finally:
        other.logout()


# A domain info answer as a registry other than ours writes one: the grace period as
# RFC 3915 section 4 describes it, with the optional parts our local registry leaves
# out (a statement in the rgpStatus element, its lang attribute), a second status, a
# domain status with text, and prefixed namespaces of the registry's own choosing.
FOREIGN_INFO = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<e:epp xmlns:e="urn:ietf:params:xml:ns:epp-1.0">
  <e:response>
    <e:result code="1000"><e:msg lang="en">Command completed successfully</e:msg></e:result>
    <e:resData>
      <d:infData xmlns:d="urn:ietf:params:xml:ns:domain-1.0">
        <d:name>voorbeeld-winkel.com</d:name>
        <d:roid>EXAMPLE1-REP</d:roid>
        <d:status s="pendingDelete">deleted by the registrar</d:status>
        <d:registrant>jd1234</d:registrant>
        <d:clID>kluis-verisign</d:clID>
        <d:crDate>2019-04-03T22:00:00.0Z</d:crDate>
        <d:exDate>2027-04-03T22:00:00.0Z</d:exDate>
      </d:infData>
    </e:resData>
    <e:extension>
      <g:infData xmlns:g="urn:ietf:params:xml:ns:rgp-1.0">
        <g:rgpStatus s="redemptionPeriod" lang="en">restorable until 2027-01-05</g:rgpStatus>
        <g:rgpStatus s="pendingRestore"/>
      </g:infData>
    </e:extension>
    <e:trID><e:clTRID>ABC-12345</e:clTRID><e:svTRID>54322-XYZ</e:svTRID></e:trID>
  </e:response>
</e:epp>
"""


def test_a_foreign_registrys_info_answer_with_its_optional_rgp_parts_is_read() -> None:
    root = parse(FOREIGN_INFO)
    validate(root)  # the vendored schemas, rgp-1.0 among them, accept it
    info = r.read_domain_info(r.read_response(root))
    assert info.rgp_statuses == ("redemptionPeriod", "pendingRestore")
    assert info.statuses == ("pendingDelete",)
    assert info.expires == dt.datetime(2027, 4, 3, 22, 0, tzinfo=dt.UTC)
    assert info.sponsor == "kluis-verisign"
