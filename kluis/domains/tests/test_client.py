"""The client against the local registry: the commands, the result codes, the faults."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable

import pytest

from kluis.domains import epp_local
from kluis.domains.epp import commands as cmd
from kluis.domains.epp.client import (
    Endpoint,
    EppClient,
    EppCommandFailed,
    EppError,
    EppTransportError,
    connect_and_login,
)
from kluis.domains.epp.framing import encode_frame, read_frame
from kluis.domains.epp.pool import SessionPool
from kluis.domains.epp.xml import parse
from kluis.domains.tests.conftest import endpoint_for

Running = epp_local.Running


def contact(handle: str, *, legal_form: str = "PERSOON", reg_no: str = "") -> cmd.ContactData:
    return cmd.ContactData(
        handle=handle,
        postal=cmd.PostalInfo(
            name="Alice de Vries",
            street=["Keizersgracht 1"],
            city="Amsterdam",
            postcode="1015CD",
            country="NL",
        ),
        email="alice@example.nl",
        voice="+31.201234567",
        legal_form=legal_form,
        legal_form_reg_no=reg_no,
    )


def setup_domain(c: EppClient, name: str = "voorbeeld.nl") -> None:
    c.contact_create(contact("KL-1"))
    c.contact_create(contact("KL-ADM", legal_form="BV", reg_no="12345678"))
    for host in ("ns1.winkeltjes.net", "ns2.winkeltjes.net"):
        if c.host_check([host])[host]:
            c.host_create(host)
    c.domain_create(
        name=name,
        years=1,
        registrant="KL-1",
        auth_pw="Token12345",
        nameservers=["ns1.winkeltjes.net", "ns2.winkeltjes.net"],
        admin="KL-ADM",
        tech="KL-ADM",
    )


def code_of(call: object) -> int:
    assert callable(call)
    with pytest.raises(EppCommandFailed) as caught:
        call()
    return caught.value.code


# --- session ----------------------------------------------------------------------------


def test_greeting_login_and_logout(registry_server: Running) -> None:
    c = EppClient(endpoint_for(registry_server))
    greeting = c.connect()
    assert greeting.server_id == "kluis local EPP registry"
    assert "http://rxsd.domain-registry.nl/sidn-ext-epp-1.0" in greeting.extensions
    assert c.login().code == 1000
    assert c.hello().server_id == greeting.server_id
    c.logout()
    assert not c.is_open
    # The server counts the session off in its own thread once it sees the close.
    deadline = time.monotonic() + 10
    while registry_server.registry.sessions["kluis-sidn"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert registry_server.registry.sessions["kluis-sidn"] == 0


def test_a_wrong_password_is_2200(registry_server: Running) -> None:
    with pytest.raises(EppCommandFailed) as caught:
        connect_and_login(endpoint_for(registry_server, password="wrong-password"))
    assert caught.value.code == 2200


def test_a_command_before_login_is_2002_and_a_second_login_too(registry_server: Running) -> None:
    c = EppClient(endpoint_for(registry_server))
    c.connect()
    assert code_of(lambda: c.domain_check(["a.nl"])) == 2002
    c.login()
    assert code_of(c.login) == 2002
    c.logout()


def test_a_session_past_the_registrys_limit_is_2502(registry_server: Running) -> None:
    held = [connect_and_login(endpoint_for(registry_server)) for _ in range(3)]
    with pytest.raises(EppCommandFailed) as caught:
        connect_and_login(endpoint_for(registry_server))
    assert caught.value.code == 2502
    for c in held:
        c.logout()


def test_each_answer_carries_the_cltrid_of_its_command(
    epp_client: EppClient, registry_server: Running
) -> None:
    root = cmd.domain_check(["a.nl"])
    answer = epp_client.request(root)
    assert answer.cltrid == cmd.cltrid_of(root) and answer.svtrid.startswith("LOCAL-")


def test_an_invalid_command_is_not_sent_and_the_session_stays_usable(
    epp_client: EppClient, registry_server: Running
) -> None:
    before = list(registry_server.registry.received)
    with pytest.raises(EppError, match="invalid command"):
        epp_client.contact_info("K" * 17)
    assert registry_server.registry.received == before
    assert epp_client.domain_check(["a.nl"])[0].available


def test_the_server_answers_2001_to_a_command_that_is_not_valid_epp(
    registry_server: Running,
) -> None:
    raw = socket.create_connection(("127.0.0.1", registry_server.server.port), timeout=5)
    tls = registry_server.client_context().wrap_socket(raw, server_hostname="127.0.0.1")
    read_frame(tls)  # greeting
    bad = (
        b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><check>'
        b'<domain:check xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:nam>a.nl'
        b"</domain:nam></domain:check></check><clTRID>abc-1</clTRID></command></epp>"
    )
    tls.sendall(encode_frame(bad))
    answer = parse(read_frame(tls))
    result = answer.find(".//{urn:ietf:params:xml:ns:epp-1.0}result")
    assert result is not None and result.get("code") == "2001"
    tls.close()


# --- domains ---------------------------------------------------------------------------


def test_check_create_info_renew_update_delete(
    epp_client: EppClient, registry_server: epp_local.Running
) -> None:
    registry_server.registry.self_renew_tlds = ()  # a registry that takes <renew> at .nl
    assert epp_client.domain_check(["voorbeeld.nl"])[0].available
    setup_domain(epp_client)
    assert not epp_client.domain_check(["voorbeeld.nl"])[0].available
    info = epp_client.domain_info("voorbeeld.nl")
    assert info.registrant == "KL-1" and info.sponsor == "kluis-sidn"
    assert info.nameservers == ("ns1.winkeltjes.net", "ns2.winkeltjes.net")
    assert info.expires is not None
    renewed = epp_client.domain_renew(
        name="voorbeeld.nl", current_expiry=info.expires.date(), years=1
    )
    assert renewed is not None and renewed.year == info.expires.year + 1
    epp_client.host_create("ns3.winkeltjes.net")
    epp_client.domain_update(
        name="voorbeeld.nl", add_ns=["ns3.winkeltjes.net"], remove_ns=["ns1.winkeltjes.net"]
    )
    assert epp_client.domain_info("voorbeeld.nl").nameservers == (
        "ns2.winkeltjes.net",
        "ns3.winkeltjes.net",
    )
    epp_client.domain_delete("voorbeeld.nl")
    assert epp_client.domain_info("voorbeeld.nl").statuses == ("pendingDelete",)  # quarantine


def test_a_registry_that_renews_by_itself_refuses_renew_and_renews_at_the_expiry(
    epp_client: EppClient, registry_server: epp_local.Running
) -> None:
    def create(name: str) -> None:
        contacts = {"registrant": "KL-1", "admin": "KL-ADM", "tech": "KL-ADM"}
        epp_client.domain_create(name=name, years=1, auth_pw="Token12345", **contacts)

    setup_domain(epp_client, "zelf.nl")
    expires = epp_client.domain_info("zelf.nl").expires
    assert expires is not None
    refused = code_of(
        lambda: epp_client.domain_renew(name="zelf.nl", current_expiry=expires.date(), years=1)
    )
    assert refused == 2101
    assert epp_client.domain_info("zelf.nl").expires == expires  # not before its expiry
    registry_server.registry.clock = lambda: expires + dt.timedelta(hours=1)
    assert epp_client.domain_info("zelf.nl").expires == expires.replace(year=expires.year + 1)
    # A deleted domain is not renewed: it waits in SIDN's quarantine, then is gone.
    create("weg.nl")
    epp_client.domain_delete("weg.nl")
    in_quarantine = epp_client.domain_info("weg.nl").expires
    registry_server.registry.clock = lambda: expires + dt.timedelta(days=39)
    assert epp_client.domain_info("weg.nl").expires == in_quarantine
    registry_server.registry.clock = lambda: expires + dt.timedelta(days=41)
    assert code_of(lambda: epp_client.domain_info("weg.nl")) == 2303
    # .com takes <renew> as before.
    create("expliciet.com")
    com = epp_client.domain_info("expliciet.com").expires
    assert com is not None
    renewed = epp_client.domain_renew(name="expliciet.com", current_expiry=com.date(), years=1)
    assert renewed is not None and renewed.year == com.year + 1


def test_the_result_codes_of_refusals(epp_client: EppClient, registry_server: Running) -> None:
    setup_domain(epp_client)
    # 2302: taken
    assert code_of(lambda: setup_domain(epp_client)) == 2302
    # 2005: not a domain name
    assert code_of(lambda: epp_client.domain_info("-bad-.nl")) == 2005
    # 2306: .nl is registered for one year at a time
    assert (
        code_of(
            lambda: epp_client.domain_create(
                name="twee.nl",
                years=2,
                registrant="KL-1",
                auth_pw="Token12345",
                admin="KL-ADM",
                tech="KL-ADM",
            )
        )
        == 2306
    )
    # 2306 with SIDN's own message: a contact without its legal form
    with pytest.raises(EppCommandFailed) as caught:
        epp_client.contact_create(contact("KL-2", legal_form=""))
    assert caught.value.code == 2306 and "C0002" in caught.value.response.explain()
    # 2303: a contact that does not exist
    assert code_of(lambda: epp_client.contact_info("KL-NOPE")) == 2303
    # 2305: a contact still linked to a domain
    assert code_of(lambda: epp_client.contact_delete("KL-1")) == 2305
    # 2304: a status that prohibits the operation
    epp_client.request(
        cmd.domain_update(name="voorbeeld.nl", add_status=["clientDeleteProhibited"])
    )
    assert code_of(lambda: epp_client.domain_delete("voorbeeld.nl")) == 2304
    # 2308: a host inside our own domain without an address
    assert code_of(lambda: epp_client.host_create("ns1.voorbeeld.nl")) == 2308
    # 2201: another registrar's domain
    other = connect_and_login(endpoint_for(registry_server, "other-registrar", sidn=False))
    assert code_of(lambda: other.domain_delete("voorbeeld.nl")) == 2201
    # 2202: a transfer with the wrong auth code
    assert (
        code_of(lambda: other.domain_transfer(op="request", name="voorbeeld.nl", auth_pw="wrong1"))
        == 2202
    )
    other.logout()


def test_a_nl_transfer_with_the_token_completes_and_tells_the_losing_registrar(
    epp_client: EppClient, registry_server: Running
) -> None:
    setup_domain(epp_client)
    other = connect_and_login(endpoint_for(registry_server, "other-registrar", sidn=False))
    answer, transfer = other.domain_transfer(
        op="request", name="voorbeeld.nl", auth_pw="Token12345"
    )
    assert answer.code == 1000 and transfer is not None
    assert transfer.status == "serverApproved"
    assert other.domain_info("voorbeeld.nl").sponsor == "other-registrar"
    other.logout()
    message = epp_client.poll()
    assert message is not None and message.code == 1301 and message.queue_count == 1
    assert "voorbeeld.nl" in message.queue_message
    epp_client.poll_ack(message.queue_id)
    assert epp_client.poll() is None  # 1300


def test_a_com_transfer_is_pending_1001_can_be_queried_and_cancelled(
    registry_server: Running,
) -> None:
    ours = connect_and_login(endpoint_for(registry_server, "kluis-verisign", sidn=False))
    other = connect_and_login(endpoint_for(registry_server, "other-registrar", sidn=False))
    other.contact_create(contact("OT-1"))
    other.domain_create(name="example.com", years=2, registrant="OT-1", auth_pw="Secret-42")
    answer, transfer = ours.domain_transfer(op="request", name="example.com", auth_pw="Secret-42")
    assert answer.code == 1001 and transfer is not None and transfer.status == "pending"
    _, queried = ours.domain_transfer(op="query", name="example.com")
    assert queried is not None and queried.requested_by == "kluis-verisign"
    assert queried.expires is not None
    expiry = queried.expires.date()
    assert (
        code_of(
            lambda: other.domain_renew(
                name="example.com",
                current_expiry=expiry,
                years=1,
            )
        )
        == 2304
    )
    answer, _ = ours.domain_transfer(op="cancel", name="example.com")
    assert answer.code == 1000
    assert code_of(lambda: other.domain_transfer(op="query", name="example.com")) == 2301
    ours.logout()
    other.logout()


# --- faults ------------------------------------------------------------------------------


def test_an_error_on_the_nth_command_is_2400_and_the_next_works(
    epp_client: EppClient, registry_server: Running
) -> None:
    registry_server.registry.faults.error_on_nth = registry_server.registry.commands_seen + 2
    epp_client.domain_check(["a.nl"])
    assert code_of(lambda: epp_client.domain_check(["a.nl"])) == 2400
    assert epp_client.domain_check(["a.nl"])[0].available


def test_a_slow_answer_past_the_timeout_breaks_the_session(registry_server: Running) -> None:
    c = connect_and_login(endpoint_for(registry_server, timeout=0.3))
    registry_server.registry.faults.slow_seconds = 1.0
    with pytest.raises(EppTransportError):
        c.domain_check(["a.nl"])
    assert not c.is_open


def test_a_connection_dropped_after_create_leaves_the_domain_at_the_registry(
    epp_client: EppClient, registry_server: Running
) -> None:
    registry_server.registry.faults.drop_after = "domain:create"
    with pytest.raises(EppTransportError):
        setup_domain(epp_client)
    assert not epp_client.is_open
    assert "voorbeeld.nl" in registry_server.registry.domains


def test_a_connection_dropped_before_create_leaves_nothing(
    epp_client: EppClient, registry_server: Running
) -> None:
    registry_server.registry.faults.drop_before = "domain:create"
    with pytest.raises(EppTransportError):
        setup_domain(epp_client)
    assert "voorbeeld.nl" not in registry_server.registry.domains


@pytest.mark.parametrize(
    ("fault", "message"),
    [("malformed_on", "not well-formed"), ("doctype_on", "DOCTYPE"), ("oversized_on", "limit")],
)
def test_a_hostile_answer_breaks_the_session_cleanly(
    epp_client: EppClient, registry_server: Running, fault: str, message: str
) -> None:
    setattr(registry_server.registry.faults, fault, "check")
    started = time.monotonic()
    with pytest.raises(EppTransportError, match=message):
        epp_client.domain_check(["a.nl"])
    assert time.monotonic() - started < 2
    assert not epp_client.is_open


# --- the pool ----------------------------------------------------------------------------


def test_the_pool_never_holds_more_sessions_than_the_registry_allows(
    registry_server: Running,
) -> None:
    pool = SessionPool(
        lambda: connect_and_login(endpoint_for(registry_server)), max_sessions=2, wait=10
    )
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                with pool.session() as c:
                    c.domain_check(["a.nl"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert 1 <= pool.peak <= 2  # 2 unless the threads never overlapped
    assert max(registry_server.registry.sessions.values()) <= 2
    pool.close()
    assert registry_server.registry.sessions["kluis-sidn"] == 0 or _settles(registry_server)


def _settles(running: Running) -> bool:
    for _ in range(50):
        if running.registry.sessions["kluis-sidn"] == 0:
            return True
        time.sleep(0.02)
    return False


def test_an_idle_session_is_greeted_before_use_and_a_broken_one_replaced(
    registry_server: Running,
) -> None:
    pool = SessionPool(
        lambda: connect_and_login(endpoint_for(registry_server)), max_sessions=1, keepalive=0
    )
    with pool.session() as c:
        c.domain_check(["a.nl"])
    with pool.session() as c:
        c.domain_check(["a.nl"])
    assert "hello" in registry_server.registry.received
    registry_server.registry.faults.drop_after = "domain:check"
    with pytest.raises(EppTransportError), pool.session() as c:
        c.domain_check(["a.nl"])
    registry_server.registry.faults.drop_after = ""
    assert pool.open_sessions == 0
    with pool.session() as c:
        assert c.domain_check(["a.nl"])[0].available
    pool.close()


def test_tls_refuses_a_server_certificate_we_do_not_trust(registry_server: Running) -> None:
    ep = endpoint_for(registry_server)
    untrusting = ssl.create_default_context()
    c = EppClient(dataclasses.replace(ep, ssl_context=untrusting))
    with pytest.raises(EppTransportError, match="cannot reach"):
        c.connect()


# --- a peer that answers wrongly (over a plain socket pair) -------------------------------


def _client_with_peer(answer: Callable[[bytes], bytes]) -> tuple[EppClient, threading.Thread]:
    """A client whose peer reads one command and sends answer(command)."""
    ours, theirs = socket.socketpair()
    ours.settimeout(2)
    theirs.settimeout(2)
    c = EppClient(endpoint_for_nothing())
    c._sock = ours  # type: ignore[assignment]  # a plain socket speaks the same framing

    def peer() -> None:
        command = read_frame(theirs)
        theirs.sendall(encode_frame(answer(command)))

    thread = threading.Thread(target=peer)
    thread.start()
    return c, thread


def endpoint_for_nothing() -> Endpoint:
    return Endpoint(
        host="127.0.0.1",
        port=9,
        client_id="kluis-sidn",
        password="unused-pw",
        ssl_context=ssl.create_default_context(),
    )


def _response(cltrid: str, code: int = 1000) -> bytes:
    return (
        '<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response>'
        f'<result code="{code}"><msg>ok</msg></result>'
        f"<trID><clTRID>{cltrid}</clTRID><svTRID>s-1</svTRID></trID></response></epp>"
    ).encode()


def _cltrid(command: bytes) -> str:
    found = parse(command).find(".//{urn:ietf:params:xml:ns:epp-1.0}clTRID")
    assert found is not None and found.text
    return found.text


def test_an_answer_for_another_cltrid_breaks_the_session() -> None:
    c, peer = _client_with_peer(lambda command: _response("kluis-someone-else"))
    with pytest.raises(EppTransportError, match="clTRID"):
        c.domain_check(["a.nl"])
    peer.join()
    assert not c.is_open


def test_a_greeting_where_a_response_belongs_breaks_the_session() -> None:
    greeting = b'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting/></epp>'
    c, peer = _client_with_peer(lambda command: greeting)
    with pytest.raises(EppTransportError, match="unexpected answer"):
        c.domain_check(["a.nl"])
    peer.join()
    assert not c.is_open


def test_a_successful_answer_without_its_data_is_an_error_not_a_crash() -> None:
    c, peer = _client_with_peer(lambda command: _response(_cltrid(command)))
    with pytest.raises(EppError, match="lacks"):
        c.domain_info("a.nl")
    peer.join()
