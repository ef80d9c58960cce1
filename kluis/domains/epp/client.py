"""One EPP session over TLS (RFC 5734): greeting, login, commands, logout.

Not thread-safe: one session serves one caller at a time (the pool hands it out).
Anything that breaks the protocol (a dropped connection, a frame over the limit, a
document that is not plain EPP, an answer to another command) makes the session
unusable: it is closed and EppTransportError raised, and the pool opens a new one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree  # type: ignore[import-untyped]

from kluis.domains.epp import commands as cmd
from kluis.domains.epp import responses as r
from kluis.domains.epp.framing import DEFAULT_MAX_FRAME, FrameError, read_frame, write_frame
from kluis.domains.epp.xml import (
    CONTACT,
    DOMAIN,
    HOST,
    SIDN,
    XmlRefused,
    parse,
    serialize,
    validate,
)


class EppError(Exception):
    """Base of everything the EPP client raises."""


class EppTransportError(EppError):
    """The session is broken: connection, framing or a document we refuse to read."""


class EppCommandFailed(EppError):
    """The registry answered with an error code (2xxx)."""

    def __init__(self, response: r.Response) -> None:
        super().__init__(response.explain())
        self.response = response
        self.code = response.code


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    client_id: str
    password: str = field(repr=False)
    ssl_context: ssl.SSLContext
    timeout: float = 30.0
    max_frame: int = DEFAULT_MAX_FRAME
    objects: tuple[str, ...] = (DOMAIN, CONTACT, HOST)
    extensions: tuple[str, ...] = ()


# Codes after which the server closes the connection (RFC 5730 §3).
_CLOSING = {1500, 2500, 2501, 2502}


T = TypeVar("T")
# A conversation with the registry: yields each command, is sent each answer (or thrown
# the registry's refusal), returns its result.
Steps = Generator[etree._Element, r.Response, T]


def answer_data(reader: Callable[[r.Response], T], answer: r.Response) -> T:
    """The typed content of a successful answer; EppError when it is not there."""
    try:
        return reader(answer)
    except XmlRefused as exc:
        raise EppError(f"the registry's answer lacks what it should hold: {exc}") from exc


class EppClient:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._sock: ssl.SSLSocket | None = None
        self.greeting: r.Greeting | None = None
        self.logged_in = False
        self.last_used = time.monotonic()
        self.commands_sent = 0
        # (clTRID, codes allowed) of the command whose answer is not read yet.
        self._waiting: tuple[str, tuple[int, ...]] | None = None

    # --- transport -----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def connect(self) -> r.Greeting:
        ep = self.endpoint
        try:
            raw = socket.create_connection((ep.host, ep.port), timeout=ep.timeout)
            self._sock = ep.ssl_context.wrap_socket(raw, server_hostname=ep.host)
            self._sock.settimeout(ep.timeout)
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise EppTransportError(f"cannot reach {ep.host}:{ep.port}: {exc}") from exc
        self.greeting = self._expect(r.read_greeting, self._receive())
        return self.greeting

    def _expect(self, reader: Callable[[etree._Element], T], root: etree._Element) -> T:
        """Read a frame as `reader` expects; a frame of another kind breaks the session."""
        try:
            return reader(root)
        except XmlRefused as exc:
            self.close()
            raise EppTransportError(f"unexpected answer: {exc}") from exc

    def _receive(self) -> etree._Element:
        assert self._sock is not None
        try:
            data = read_frame(self._sock, max_size=self.endpoint.max_frame)
            return parse(data)
        except (FrameError, XmlRefused, OSError) as exc:
            self.close()
            raise EppTransportError(str(exc)) from exc

    def _send(self, root: etree._Element) -> None:
        if self._sock is None:
            raise EppTransportError("the session is not connected")
        try:
            write_frame(self._sock, serialize(root))
        except OSError as exc:
            self.close()
            raise EppTransportError(str(exc)) from exc
        self.commands_sent += 1
        self.last_used = time.monotonic()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self.logged_in = False
        self._waiting = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # --- commands ------------------------------------------------------------------

    def request(self, root: etree._Element, *, allow: Sequence[int] = ()) -> r.Response:
        """Validate, send, read the answer; EppCommandFailed on 2xxx unless allowed."""
        self.start(root, allow=allow)
        return self.finish()

    def start(self, root: etree._Element, *, allow: Sequence[int] = ()) -> None:
        """Validate and send one command; its answer is read by `finish`.

        EPP allows one command in flight per session: several are sent at once only
        over several sessions (kluis/domains/epp/pipeline.py).
        """
        if self._waiting is not None:
            raise EppError("a command is already waiting for its answer on this session")
        try:
            validate(root)
        except XmlRefused as exc:
            # Our own bug: nothing was sent, the session stays usable.
            raise EppError(f"refused to send an invalid command: {exc}") from exc
        sent_id = cmd.cltrid_of(root)
        self._send(root)
        self._waiting = (sent_id, tuple(allow))

    def finish(self) -> r.Response:
        """The answer to the command `start` sent; EppCommandFailed on 2xxx unless allowed."""
        if self._waiting is None:
            raise EppError("no command is waiting for an answer on this session")
        (sent_id, allow), self._waiting = self._waiting, None
        answer = self._expect(r.read_response, self._receive())
        if sent_id and answer.cltrid != sent_id:
            self.close()
            raise EppTransportError(f"answer for clTRID {answer.cltrid!r}, expected {sent_id!r}")
        if answer.code in _CLOSING:
            self.close()
        if answer.code >= 2000 and answer.code not in allow:
            raise EppCommandFailed(answer)
        return answer

    @property
    def waiting(self) -> bool:
        """A command was sent and its answer not read yet."""
        return self._waiting is not None

    def fileno(self) -> int:
        if self._sock is None:
            raise EppTransportError("the session is not connected")
        return self._sock.fileno()

    def drive(self, steps: Steps[T]) -> T:
        """Run a conversation (a generator that yields commands and is sent each answer,
        or thrown EppCommandFailed) to its end, one command at a time: its result."""
        try:
            command = next(steps)
            while True:
                try:
                    answer = self.request(command)
                except EppCommandFailed as exc:
                    command = steps.throw(exc)
                else:
                    command = steps.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result

    def hello(self) -> r.Greeting:
        root = cmd.hello()
        validate(root)
        self._send(root)
        self.greeting = self._expect(r.read_greeting, self._receive())
        return self.greeting

    def login(self) -> r.Response:
        ep = self.endpoint
        offered = set(self.greeting.extensions) if self.greeting else set()
        extensions = [uri for uri in ep.extensions if uri in offered]
        answer = self.request(
            cmd.login(
                client_id=ep.client_id,
                password=ep.password,
                objects=ep.objects,
                extensions=extensions,
            )
        )
        self.logged_in = True
        return answer

    def logout(self) -> None:
        try:
            if self.is_open and self.logged_in:
                self.request(cmd.logout())
        except EppError:
            pass
        finally:
            self.close()

    @property
    def speaks_sidn(self) -> bool:
        return SIDN in self.endpoint.extensions

    def domain_check(self, names: Sequence[str]) -> list[r.Availability]:
        return answer_data(r.read_domain_check, self.request(cmd.domain_check(names)))

    def domain_info(self, name: str, *, auth_pw: str = "") -> r.DomainInfo:
        return answer_data(r.read_domain_info, self.request(cmd.domain_info(name, auth_pw=auth_pw)))

    def domain_create(
        self,
        *,
        name: str,
        years: int,
        registrant: str,
        auth_pw: str,
        nameservers: Sequence[str] = (),
        admin: str = "",
        tech: str = "",
    ) -> r.DomainCreated:
        root = cmd.domain_create(
            name=name,
            years=years,
            registrant=registrant,
            auth_pw=auth_pw,
            nameservers=nameservers,
            admin=admin,
            tech=tech,
        )
        return answer_data(r.read_domain_created, self.request(root))

    def domain_renew(self, *, name: str, current_expiry: dt.date, years: int) -> dt.datetime | None:
        root = cmd.domain_renew(name=name, current_expiry=current_expiry, years=years)
        return answer_data(r.read_domain_renewed, self.request(root))

    def domain_update(
        self,
        *,
        name: str,
        add_ns: Sequence[str] = (),
        remove_ns: Sequence[str] = (),
        registrant: str = "",
        auth_pw: str = "",
    ) -> r.Response:
        root = cmd.domain_update(
            name=name, add_ns=add_ns, remove_ns=remove_ns, registrant=registrant, auth_pw=auth_pw
        )
        return self.request(root)

    def domain_restore(self, name: str) -> r.Response:
        """RFC 3915 restore request for a domain in its redemption period."""
        return self.request(cmd.domain_restore(name))

    def domain_restore_report(self, name: str, report: cmd.RestoreReport) -> r.Response:
        """RFC 3915 restore report, completing a restore the registry holds pendingRestore."""
        return self.request(cmd.domain_restore_report(name, report))

    def domain_cancel_delete(self, name: str) -> r.Response:
        """SIDN: take a .nl name we deleted back out of its quarantine."""
        return self.request(cmd.domain_cancel_delete(name))

    def domain_transfer(
        self, *, op: str, name: str, auth_pw: str = "", years: int | None = None
    ) -> tuple[r.Response, r.Transfer | None]:
        answer = self.request(cmd.domain_transfer(op=op, name=name, auth_pw=auth_pw, years=years))
        has_data = answer.res_data is not None
        return answer, (answer_data(r.read_domain_transfer, answer) if has_data else None)

    def domain_delete(self, name: str) -> r.Response:
        return self.request(cmd.domain_delete(name))

    def contact_create(self, data: cmd.ContactData) -> r.Response:
        return self.request(cmd.contact_create(data, sidn=self.speaks_sidn))

    def contact_info(self, handle: str) -> r.ContactInfo:
        return answer_data(r.read_contact_info, self.request(cmd.contact_info(handle)))

    def contact_update(self, data: cmd.ContactData) -> r.Response:
        return self.request(cmd.contact_update(data, sidn=self.speaks_sidn))

    def contact_delete(self, handle: str) -> r.Response:
        return self.request(cmd.contact_delete(handle))

    def host_check(self, names: Sequence[str]) -> dict[str, bool]:
        return answer_data(r.read_host_check, self.request(cmd.host_check(names)))

    def host_create(self, name: str, addresses: Sequence[tuple[str, str]] = ()) -> r.Response:
        return self.request(cmd.host_create(name, addresses))

    def poll(self) -> r.Response | None:
        """The oldest message in the queue (1301), or None when it is empty (1300)."""
        answer = self.request(cmd.poll_request())
        return answer if answer.code == r.MESSAGE else None

    def poll_ack(self, message_id: str) -> r.Response:
        return self.request(cmd.poll_ack(message_id))


def connect_and_login(endpoint: Endpoint) -> EppClient:
    client = EppClient(endpoint)
    client.connect()
    try:
        client.login()
    except EppError:
        client.close()
        raise
    return client
