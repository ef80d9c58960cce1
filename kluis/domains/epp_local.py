"""A local EPP registry: what tests and `make run` register domains at.

It speaks EPP as a registry does: TLS on loopback (a certificate made at start with
the cryptography package), RFC 5734 framing, a greeting, login with a session limit
per registrar, and the commands of RFC 5731 to 5733 with the result codes registries
send. Every command it receives is validated against the same vendored schemas the
client uses, so a client bug answers 2001 here instead of hiding.

It serves every TLD kluis sells from one registry (one port); a registrar is a
client id. At the TLDs whose registry renews by itself (SELF_RENEW_TLDS: .nl, .be,
.de) it refuses <renew> and renews a domain a year at its expiry unless deleted.
Sessions that log in with SIDN's extension get SIDN's rules and answers for contacts
(legal form) and its error messages. A deleted .nl name stays in quarantine
(QUARANTINE_TLDS) until SIDN's <sidn-ext-epp:domainCancelDelete> takes it back or the
quarantine ends; a deleted .com, .net, .org or .eu name stays in redemption (RFC 3915).

Faults can be injected (`Faults`): a slow answer, a connection dropped before or
after a command is carried out, a malformed or oversized answer frame, an answer with
a DOCTYPE, and an error on the n-th command.

The registry lives in memory; with `store` it is written to a JSON file after every
change and read back at start, so `make run` keeps its domains across restarts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import itertools
import json
import os
import re
import secrets
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from lxml.builder import ElementMaker  # type: ignore[import-untyped]

from kluis.domains.epp.framing import FrameError, encode_frame, read_frame
from kluis.domains.epp.xml import (
    CONTACT,
    DOMAIN,
    EPP,
    HOST,
    RGP,
    SIDN,
    XmlRefused,
    parse,
    serialize,
    validate,
)
from kluis.domains.registries import REGISTRIES, RESTORE_SIDN, SIDN_LEGAL_FORMS

E = ElementMaker(namespace=EPP, nsmap={None: EPP})
D = ElementMaker(namespace=DOMAIN, nsmap={"domain": DOMAIN})
C = ElementMaker(namespace=CONTACT, nsmap={"contact": CONTACT})
H = ElementMaker(namespace=HOST, nsmap={"host": HOST})
S = ElementMaker(namespace=SIDN, nsmap={"sidn-ext-epp": SIDN})
R = ElementMaker(namespace=RGP, nsmap={"rgp": RGP})

TLDS = ("nl", "eu", "be", "de", "com", "net", "org")
# The TLDs where a transfer adds a period to the domain's term (one year when the
# request names none), as the gTLD registries do; elsewhere a transfer extends nothing
# and a request that names a period is refused (2306).
TRANSFER_EXTENDS = ("com", "net", "org")
# The TLDs whose registry keeps a deleted domain restorable (RFC 3915): a delete puts it
# in its redemption period, then pendingDelete, then it is purged. Elsewhere a delete
# takes the domain away at once. Matches `rgp` in kluis/domains/registries.py.
RGP_TLDS = ("com", "net", "org", "eu")
# The TLDs whose registry puts a deleted domain in quarantine, from which its registrar
# takes it back with SIDN's <sidn-ext-epp:domainCancelDelete> (.nl): it stays in the
# registry, pendingDelete, for `quarantine_period`, then it is purged and free. Matches
# `restore_method` in kluis/domains/registries.py.
QUARANTINE_TLDS = tuple(
    tld for r in REGISTRIES.values() if r.restore_method == RESTORE_SIDN for tld in r.tlds
)
# The TLDs whose registry renews a domain by itself at its expiry unless it was deleted
# before, and takes no <domain:renew> (answered 2101, Unimplemented command: ◐ the code
# SIDN, DNS Belgium and DENIC really send is not confirmed). Matches `renews_itself` in
# kluis/domains/registries.py.
SELF_RENEW_TLDS = tuple(tld for r in REGISTRIES.values() if r.renews_itself for tld in r.tlds)
COMMAND_LIMIT = 64 * 1024
# Names a registry keeps for itself: check answers avail=0 "Reserved", create 2306.
RESERVED = frozenset({"nic", "whois", "rdap", "registry"})
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MESSAGES = {
    1000: "Command completed successfully",
    1001: "Command completed successfully; action pending",
    1300: "Command completed successfully; no messages",
    1301: "Command completed successfully; ack to dequeue",
    1500: "Command completed successfully; ending session",
    2001: "Command syntax error",
    2002: "Command use error",
    2005: "Parameter value syntax error",
    2101: "Unimplemented command",
    2102: "Unimplemented option",
    2103: "Unimplemented extension",
    2105: "Object is not eligible for renewal",
    2106: "Object is not eligible for transfer",
    2200: "Authentication error",
    2201: "Authorization error",
    2202: "Invalid authorization information",
    2300: "Object pending transfer",
    2301: "Object not pending transfer",
    2302: "Object exists",
    2303: "Object does not exist",
    2304: "Object status prohibits operation",
    2305: "Object association prohibits operation",
    2306: "Parameter value policy error",
    2308: "Data management policy violation",
    2400: "Command failed",
    2502: "Session limit exceeded; server closing connection",
}


OTHER_REGISTRAR = "other-registrar"  # the competitor every local registry knows


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.0Z")


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _text(el: etree._Element | None, path: str) -> str:
    if el is None:
        return ""
    found = el.find(path)
    return (found.text or "").strip() if found is not None else ""


# --- the registry's objects ---------------------------------------------------------


@dataclass
class DomainRecord:
    name: str
    roid: str
    sponsor: str
    registrant: str
    auth_pw: str
    created: str
    expires: str
    contacts: list[tuple[str, str]] = field(default_factory=list)
    nameservers: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    # A transfer waiting for the losing registrar: (gaining client id, requested at).
    transfer_to: str = ""
    transfer_at: str = ""
    # The years the pending transfer adds once approved.
    transfer_years: int = 0
    # Deleted by its registrar at a registry with grace periods (RGP_TLDS): when. The
    # domain is then in its redemption period, then pendingDelete, then purged. At
    # QUARANTINE_TLDS: in quarantine since then, until purged.
    deleted_at: str = ""
    # A restore requested in the redemption period (RFC 3915 §3.2): when. The domain
    # waits in pendingRestore for the registrar's restore report.
    restore_requested_at: str = ""

    def transfer_approved(self, gaining: str) -> None:
        """The domain moves to `gaining`, its term extended by the transfer's period."""
        if self.transfer_years:
            expires = dt.datetime.fromisoformat(self.expires.replace("Z", "+00:00"))
            self.expires = _iso(_add_years(expires, self.transfer_years))
        self.sponsor, self.auth_pw = gaining, secrets.token_hex(8)
        self.transfer_to = self.transfer_at = ""
        self.transfer_years = 0


@dataclass
class ContactRecord:
    handle: str
    roid: str
    sponsor: str
    name: str
    org: str
    street: list[str]
    city: str
    postcode: str
    country: str
    email: str
    voice: str
    auth_pw: str
    legal_form: str = ""
    legal_form_reg_no: str = ""


@dataclass
class HostRecord:
    name: str
    roid: str
    sponsor: str
    addresses: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PollMessage:
    id: str
    at: str
    text: str
    domain: str = ""
    # The registrar that asked for the transfer the message is about.
    gaining: str = ""
    # A pending-action notice (RFC 5731 <domain:panData>): "1" done, "0" failed.
    pa_result: str = ""


@dataclass
class Faults:
    """What to break. Command names are "verb" or "object:verb" (domain:create)."""

    slow_seconds: float = 0.0
    drop_before: str = ""  # close the connection after reading this command, not doing it
    drop_after: str = ""  # carry it out, then close without answering
    malformed_on: str = ""  # answer with a frame that is not XML
    oversized_on: str = ""  # answer with a length header of 100 MB
    doctype_on: str = ""  # answer with a document that has a DOCTYPE
    error_on_nth: int = 0  # the n-th command (over all sessions, login included) gets 2400
    # (command, earlier): `command` gets 2400 once `earlier` came in the same session.
    error_after: tuple[str, str] = ("", "")

    @staticmethod
    def matches(rule: str, name: str) -> bool:
        return bool(rule) and (rule == name or rule == name.split(":")[-1])


@dataclass
class Registry:
    """Everything the local registry knows; one lock guards it all."""

    passwords: dict[str, str]
    max_sessions: int = 4
    store: Path | None = None
    domains: dict[str, DomainRecord] = field(default_factory=dict)
    contacts: dict[str, ContactRecord] = field(default_factory=dict)
    hosts: dict[str, HostRecord] = field(default_factory=dict)
    polls: dict[str, list[PollMessage]] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    commands_seen: int = 0
    received: list[str] = field(default_factory=list)  # command names, for tests
    # A pending transfer the losing registrar leaves unanswered is approved by the
    # registry after this long (gTLD registries: five days), seen at the next command.
    transfer_auto_approve: dt.timedelta = dt.timedelta(days=5)
    # How <renew> behaves at the other TLDs (tests set these). `renew_refusal`: every
    # renew gets this code (2105, or 2304 as a lock). `auto_renew`: a refused renew finds
    # the domain renewed by the registry, a year from its expiry. `renew_extra_days`: a
    # registry that renews from a later date than the expiry (its new date is that many
    # days past a plain year).
    renew_refusal: int = 0
    auto_renew: bool = False
    renew_extra_days: int = 0
    # The TLDs renewed by the registry itself at their expiry (by `clock`), a year at a
    # time, unless deleted; <renew> there is unimplemented. Tests empty it to play a
    # registry that did not renew.
    self_renew_tlds: tuple[str, ...] = SELF_RENEW_TLDS
    # RFC 3915 at RGP_TLDS: a deleted domain can be restored for `redemption_period`,
    # then waits `pending_delete_period` and is purged. `clock` is the registry's time
    # for these periods (tests move it).
    redemption_period: dt.timedelta = dt.timedelta(days=30)
    pending_delete_period: dt.timedelta = dt.timedelta(days=5)
    # How long a requested restore waits for its report before it falls back to the
    # redemption period (RFC 3915 §3.2: pendingRestore, 7 days at the gTLD registries).
    pending_restore_period: dt.timedelta = dt.timedelta(days=7)
    # SIDN's quarantine at QUARANTINE_TLDS (40 days, sidn.nl): a deleted .nl name can be
    # taken back by the registrar that deleted it (domainCancelDelete), then it is
    # purged and free.
    quarantine_period: dt.timedelta = dt.timedelta(days=40)
    clock: Callable[[], dt.datetime] = field(default=_now)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}-KLUIS"

    def held_elsewhere(self, name: str, auth_pw: str) -> DomainRecord:
        """`name` registered by another registrar with `auth_pw`, for a transfer in the
        demo; an existing record is left as it is."""
        with self.lock:
            if name in self.domains:
                return self.domains[name]
            handle = "OTHER-HOLDER"
            if handle not in self.contacts:
                self.contacts[handle] = ContactRecord(
                    handle=handle,
                    roid=self.next_id("C"),
                    sponsor=OTHER_REGISTRAR,
                    name="Demo Houder",
                    org="",
                    street=["Voorbeeldstraat 1"],
                    city="Utrecht",
                    postcode="3511AA",
                    country="NL",
                    email="houder@example.nl",
                    voice="+31.301234567",
                    auth_pw=secrets.token_hex(8),
                    legal_form="PERSOON",
                )
            now = _now()
            record = DomainRecord(
                name=name,
                roid=self.next_id("D"),
                sponsor=OTHER_REGISTRAR,
                registrant=handle,
                auth_pw=auth_pw,
                created=_iso(now),
                expires=_iso(_add_years(now, 1)),
                contacts=[("admin", handle), ("tech", handle)],
            )
            self.domains[name] = record
            self.save()
            return record

    def tell(self, client_id: str, status: str, record: DomainRecord, gaining: str) -> None:
        """A transfer poll message for `client_id` (call under the lock)."""
        self.polls.setdefault(client_id, []).append(
            PollMessage(
                self.next_id("M"),
                _iso(_now()),
                f"Transfer {status} for {record.name}",
                record.name,
                gaining,
            )
        )

    def notice(self, client_id: str, text: str, *, domain: str = "", pa_result: str = "") -> None:
        """A poll message for `client_id` that is not about a transfer: a pending action's
        result about `domain` (<domain:panData>), or plain text (call under the lock)."""
        self.polls.setdefault(client_id, []).append(
            PollMessage(self.next_id("M"), _iso(_now()), text, domain, pa_result=pa_result)
        )

    def registry_delete(self, name: str) -> None:
        """The registry deletes `name` itself (a court order, abuse, a failed check) and
        tells its registrar."""
        with self.lock:
            record = self.domains.pop(name)
            self.notice(
                record.sponsor, f"Domain {name} deleted by the registry", domain=name, pa_result="1"
            )
            self.save()

    def registry_set_expiry(self, name: str, expires: dt.date) -> None:
        """The registry moves the expiry date of `name` and tells its registrar."""
        with self.lock:
            record = self.domains[name]
            record.expires = expires.strftime("%Y-%m-%dT%H:%M:%S.0Z")
            self.notice(
                record.sponsor, f"Expiry date of {name} changed", domain=name, pa_result="1"
            )
            self.save()

    def rgp_status(self, record: DomainRecord) -> str:
        """ "redemptionPeriod", "pendingRestore", "pendingDelete", or "" for a domain not
        deleted. A restore request without its report within pending_restore_period falls
        back to where the domain would be without it."""
        if not record.deleted_at or _tld(record.name) in QUARANTINE_TLDS:
            return ""
        if record.restore_requested_at:
            asked = dt.datetime.fromisoformat(record.restore_requested_at.replace("Z", "+00:00"))
            if self.clock() < asked + self.pending_restore_period:
                return "pendingRestore"
        deleted = dt.datetime.fromisoformat(record.deleted_at.replace("Z", "+00:00"))
        return (
            "redemptionPeriod"
            if self.clock() < deleted + self.redemption_period
            else ("pendingDelete")
        )

    def purge_at(self, record: DomainRecord) -> dt.datetime:
        """When a deleted domain is purged: after its quarantine, or after its redemption
        and pendingDelete periods."""
        deleted = dt.datetime.fromisoformat(record.deleted_at.replace("Z", "+00:00"))
        if _tld(record.name) in QUARANTINE_TLDS:
            return deleted + self.quarantine_period
        return deleted + self.redemption_period + self.pending_delete_period

    def purges_due(self) -> None:
        """Purge the deleted domains whose grace periods are over (call under the lock)."""
        now = self.clock()
        gone = [
            record.name
            for record in self.domains.values()
            if record.deleted_at
            and self.rgp_status(record) != "pendingRestore"
            and self.purge_at(record) <= now
        ]
        for name in gone:
            del self.domains[name]
        if gone:
            self.save()

    def renewals_due(self) -> None:
        """Renew by a year each domain at `self_renew_tlds` whose expiry has come, as
        those registries do at the expiry of a domain not deleted (call under the lock)."""
        now = self.clock()
        changed = False
        for record in self.domains.values():
            if record.deleted_at or record.name.rsplit(".", 1)[-1] not in self.self_renew_tlds:
                continue
            expires = dt.datetime.fromisoformat(record.expires.replace("Z", "+00:00"))
            while expires <= now:
                expires = _add_years(expires, 1)
                record.expires, changed = _iso(expires), True
        if changed:
            self.save()

    def transfers_due(self) -> None:
        """Approve the pending transfers no one answered in time (call under the lock)."""
        limit = _now() - self.transfer_auto_approve
        for record in self.domains.values():
            if not record.transfer_to or not record.transfer_at:
                continue
            at = dt.datetime.fromisoformat(record.transfer_at.replace("Z", "+00:00"))
            if at > limit:
                continue
            losing, gaining = record.sponsor, record.transfer_to
            record.transfer_approved(gaining)
            self.tell(losing, "serverApproved", record, gaining)
            self.tell(gaining, "serverApproved", record, gaining)
            self.save()

    def save(self) -> None:
        if self.store is None:
            return
        data = {
            "domains": [asdict(d) for d in self.domains.values()],
            "contacts": [asdict(c) for c in self.contacts.values()],
            "hosts": [asdict(h) for h in self.hosts.values()],
            "polls": {k: [asdict(m) for m in v] for k, v in self.polls.items()},
        }
        tmp = self.store.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.store)

    def load(self) -> None:
        if self.store is None or not self.store.exists():
            return
        data = json.loads(self.store.read_text())
        for d in data["domains"]:
            d["contacts"] = [tuple(c) for c in d["contacts"]]
            self.domains[d["name"]] = DomainRecord(**d)
        for c in data["contacts"]:
            self.contacts[c["handle"]] = ContactRecord(**c)
        for h in data["hosts"]:
            h["addresses"] = [tuple(a) for a in h["addresses"]]
            self.hosts[h["name"]] = HostRecord(**h)
        self.polls = {k: [PollMessage(**m) for m in v] for k, v in data["polls"].items()}
        self._ids = itertools.count(len(self.domains) + len(self.contacts) + len(self.hosts) + 1)


class Refusal(Exception):
    def __init__(self, code: int, reason: str = "", sidn: tuple[str, str] | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.sidn = sidn


class Dropped(Exception):
    """A fault: close the connection now."""


# --- one session ---------------------------------------------------------------------


class Session:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.client_id = ""
        self.sidn = False
        self.rgp = False
        self.seen: list[str] = []  # command names this session received

    # answers

    def greeting(self) -> etree._Element:
        return E.epp(
            E.greeting(
                E.svID("kluis local EPP registry"),
                E.svDate(_iso(_now())),
                E.svcMenu(
                    E.version("1.0"),
                    E.lang("en"),
                    E.objURI(DOMAIN),
                    E.objURI(CONTACT),
                    E.objURI(HOST),
                    E.svcExtension(E.extURI(SIDN), E.extURI(RGP)),
                ),
                E.dcp(
                    E.access(E.all()),
                    E.statement(
                        E.purpose(E.admin(), E.prov()),
                        E.recipient(E.ours(), E.public()),
                        E.retention(E.stated()),
                    ),
                ),
            )
        )

    def answer(
        self,
        code: int,
        cltrid: str,
        *,
        reason: str = "",
        res_data: etree._Element | None = None,
        sidn: tuple[str, str] | None = None,
        msgq: etree._Element | None = None,
        extension: etree._Element | None = None,
    ) -> etree._Element:
        result = E.result(E.msg(MESSAGES.get(code, "Command failed")), code=str(code))
        if reason:
            result.append(E.extValue(E.value(E.text(reason)), E.reason(reason)))
        parts: list[etree._Element] = [result]
        if msgq is not None:
            parts.append(msgq)
        if res_data is not None:
            parts.append(E.resData(res_data))
        if extension is not None:
            parts.append(E.extension(extension))
        elif sidn is not None and self.sidn:
            sidn_code, text = sidn
            parts.append(
                E.extension(S.ext(S.response(S.msg(text, code=sidn_code, field="")))),
            )
        trid = [E.clTRID(cltrid)] if cltrid else []
        trid.append(E.svTRID(f"LOCAL-{secrets.token_hex(8)}"))
        parts.append(E.trID(*trid))
        return E.epp(E.response(*parts))

    # dispatch

    def handle(self, root: etree._Element) -> tuple[etree._Element, bool]:
        """(answer, close the connection afterwards)."""
        if root.find(_q(EPP, "hello")) is not None:
            with self.registry.lock:
                self.registry.received.append("hello")
            return self.greeting(), False
        command = root.find(_q(EPP, "command"))
        # SIDN's own commands stand in <epp><extension>, with their clTRID.
        sidn_command = root.find(f"{_q(EPP, 'extension')}/{_q(SIDN, 'command')}")
        if command is not None:
            cltrid = _text(command, _q(EPP, "clTRID"))
            verb_el = command[0]
            verb = etree.QName(verb_el).localname
            obj = verb_el[0] if len(verb_el) else None
            name = f"{_object_kind(obj)}:{verb}" if obj is not None and verb != "poll" else verb
        elif sidn_command is not None:
            cltrid = _text(sidn_command, _q(SIDN, "clTRID"))
            verb_el, obj = sidn_command[0], None
            verb = etree.QName(verb_el).localname
            name = {"domainCancelDelete": "domain:cancelDelete"}.get(verb, verb)
        else:
            return self.answer(2001, "", reason="expected a command"), False
        reg = self.registry
        with reg.lock:
            reg.commands_seen += 1
            nth = reg.commands_seen
            reg.received.append(name)
            reg.purges_due()
            reg.renewals_due()
        faults = reg.faults
        if faults.slow_seconds:
            time.sleep(faults.slow_seconds)
        if Faults.matches(faults.drop_before, name):
            raise Dropped()
        after_earlier = Faults.matches(faults.error_after[0], name) and any(
            Faults.matches(faults.error_after[1], seen) for seen in self.seen
        )
        self.seen.append(name)
        if (faults.error_on_nth and nth == faults.error_on_nth) or after_earlier:
            return self.answer(2400, cltrid, reason="injected fault"), False
        try:
            if verb == "login":
                return self.login(command, cltrid)
            if not self.client_id:
                raise Refusal(2002, "log in first")
            if verb == "logout":
                return self.answer(1500, cltrid), True
            if command is None:
                result = self.domain_cancel_delete(verb_el, cltrid)
            elif verb == "poll":
                result = self.poll(verb_el, cltrid)
            else:
                assert obj is not None
                handler: Callable[[etree._Element, str, etree._Element], etree._Element] = getattr(
                    self, f"{_object_kind(obj)}_{verb}", self.unimplemented
                )
                result = handler(obj, cltrid, command)
        except Refusal as refusal:
            return self.answer(
                refusal.code, cltrid, reason=refusal.reason, sidn=refusal.sidn
            ), refusal.code == 2502
        if Faults.matches(faults.drop_after, name):
            raise Dropped()
        return result, False

    def unimplemented(self, obj: etree._Element, cltrid: str, command: etree._Element) -> Any:
        raise Refusal(2101, f"{etree.QName(obj).localname} is not implemented here")

    def login(self, command: etree._Element, cltrid: str) -> tuple[etree._Element, bool]:
        if self.client_id:
            raise Refusal(2002, "already logged in")
        el = command.find(_q(EPP, "login"))
        assert el is not None
        client_id, password = _text(el, _q(EPP, "clID")), _text(el, _q(EPP, "pw"))
        reg = self.registry
        if reg.passwords.get(client_id) != password:
            return self.answer(2200, cltrid), False
        with reg.lock:
            if reg.sessions.get(client_id, 0) >= reg.max_sessions:
                return self.answer(2502, cltrid, reason=f"at most {reg.max_sessions}"), True
            reg.sessions[client_id] = reg.sessions.get(client_id, 0) + 1
        self.client_id = client_id
        self.sidn = any((u.text or "").strip() == SIDN for u in el.iter(_q(EPP, "extURI")))
        self.rgp = any((u.text or "").strip() == RGP for u in el.iter(_q(EPP, "extURI")))
        return self.answer(1000, cltrid), False

    def end(self) -> None:
        if self.client_id:
            with self.registry.lock:
                self.registry.sessions[self.client_id] -= 1
            self.client_id = ""

    # domains

    def _domain_name(self, raw: str) -> str:
        name = raw.strip().lower().rstrip(".")
        labels = name.split(".")
        if len(name) > 253 or len(labels) != 2 or not all(LABEL.match(lb) for lb in labels):
            raise Refusal(2005, f"{raw!r} is not a domain name of two labels")
        if labels[0][2:4] == "--" and not labels[0].startswith("xn--"):
            raise Refusal(2005, "hyphens in the third and fourth position")
        if labels[1] not in TLDS:
            raise Refusal(2306, f".{labels[1]} is not served by this registry")
        return name

    def _sidn_refusal(self, code: int, reason: str, sidn_code: str) -> Refusal:
        return Refusal(code, reason, sidn=(sidn_code, reason))

    def _own_domain(self, name: str, *, deleted: bool = False) -> DomainRecord:
        """The domain, ours; one deleted and in its grace periods only when `deleted`."""
        record = self.registry.domains.get(name)
        if record is None:
            raise Refusal(2303, name)
        if record.sponsor != self.client_id:
            raise Refusal(2201, "the domain is sponsored by another registrar")
        if record.deleted_at and not deleted:
            raise Refusal(2304, "the domain is pendingDelete")
        return record

    def domain_check(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        rows = []
        with self.registry.lock:
            for el in obj.iter(_q(DOMAIN, "name")):
                raw = (el.text or "").strip()
                try:
                    name = self._domain_name(raw)
                except Refusal as exc:
                    rows.append(D.cd(D.name(raw, avail="0"), D.reason(exc.reason)))
                    continue
                record = self.registry.domains.get(name)
                taken = record is not None
                reserved = name.split(".")[0] in RESERVED
                cd = D.cd(D.name(name, avail="0" if taken or reserved else "1"))
                if record is not None and record.deleted_at and _tld(name) in QUARANTINE_TLDS:
                    cd.append(D.reason("In quarantine"))
                elif taken or reserved:
                    cd.append(D.reason("In use" if taken else "Reserved by the registry"))
                rows.append(cd)
        return self.answer(1000, cltrid, res_data=D.chkData(*rows))

    def domain_info(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        name = self._domain_name(_text(obj, _q(DOMAIN, "name")))
        given_pw = _text(obj, f"{_q(DOMAIN, 'authInfo')}/{_q(DOMAIN, 'pw')}")
        with self.registry.lock:
            self.registry.transfers_due()
            record = self.registry.domains.get(name)
            if record is None:
                raise Refusal(2303, name)
            sponsor = record.sponsor == self.client_id
            if given_pw and given_pw != record.auth_pw and not sponsor:
                raise Refusal(2202)
            full = sponsor or given_pw == record.auth_pw
            parts = [D.name(record.name), D.roid(record.roid)]
            parts += [D.status(s=s) for s in (record.statuses or ["ok"])]
            if full:
                parts.append(D.registrant(record.registrant))
                parts += [D.contact(h, type=t) for t, h in record.contacts]
                if record.nameservers:
                    parts.append(D.ns(*[D.hostObj(h) for h in record.nameservers]))
            parts += [D.clID(record.sponsor), D.crID(record.sponsor), D.crDate(record.created)]
            if full:
                parts.append(D.exDate(record.expires))
                parts.append(D.authInfo(D.pw(record.auth_pw)))
            grace = self.registry.rgp_status(record)
        extension = R.infData(R.rgpStatus(s=grace)) if grace and self.rgp else None
        return self.answer(1000, cltrid, res_data=D.infData(*parts), extension=extension)

    def _years(self, obj: etree._Element, name: str) -> int:
        period = obj.find(_q(DOMAIN, "period"))
        if period is None:
            return 1
        years = int(period.text or "1") // (12 if period.get("unit") == "m" else 1)
        most = 1 if name.endswith((".nl", ".be", ".de")) else 10
        if not 1 <= years <= most:
            raise self._sidn_refusal(2306, f"period of {years} years (1 to {most})", "P0001")
        return years

    def _transfer_years(self, obj: etree._Element, name: str) -> int:
        """What a transfer request adds: its period (one year by default) where the TLD's
        transfers extend the term; elsewhere none, and a period named is refused."""
        if name.rsplit(".", 1)[-1] in TRANSFER_EXTENDS:
            return self._years(obj, name)
        if obj.find(_q(DOMAIN, "period")) is not None:
            raise self._sidn_refusal(
                2306, "a transfer does not extend the term here: no period", "P0002"
            )
        return 0

    def _hosts_exist(self, names: list[str]) -> None:
        for host in names:
            if host.lower() not in self.registry.hosts:
                raise Refusal(2303, f"host {host} does not exist")

    def domain_create(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        name = self._domain_name(_text(obj, _q(DOMAIN, "name")))
        years = self._years(obj, name)
        registrant = _text(obj, _q(DOMAIN, "registrant"))
        contacts = [
            (c.get("type", ""), (c.text or "").strip()) for c in obj.iter(_q(DOMAIN, "contact"))
        ]
        ns = [(h.text or "").strip().lower() for h in obj.iter(_q(DOMAIN, "hostObj"))]
        reg = self.registry
        with reg.lock:
            if name in reg.domains:
                raise Refusal(2302, name)
            if name.split(".")[0] in RESERVED:
                raise Refusal(2306, f"{name} is reserved by the registry")
            if not registrant:
                raise Refusal(2306, "a registrant is required")
            for _type, handle in [("registrant", registrant), *contacts]:
                contact = reg.contacts.get(handle)
                if contact is None:
                    raise Refusal(2303, f"contact {handle} does not exist")
                if contact.sponsor != self.client_id:
                    raise Refusal(2201, f"contact {handle} belongs to another registrar")
            if name.endswith(".nl"):
                kinds = {t for t, _h in contacts}
                if not {"admin", "tech"} <= kinds:
                    raise self._sidn_refusal(
                        2306, "a .nl domain needs an admin and a tech contact", "C0001"
                    )
            self._hosts_exist(ns)
            now = _now()
            record = DomainRecord(
                name=name,
                roid=reg.next_id("D"),
                sponsor=self.client_id,
                registrant=registrant,
                auth_pw=_text(obj, f"{_q(DOMAIN, 'authInfo')}/{_q(DOMAIN, 'pw')}"),
                created=_iso(now),
                expires=_iso(_add_years(now, years)),
                contacts=contacts,
                nameservers=ns,
            )
            reg.domains[name] = record
            reg.save()
        return self.answer(
            1000,
            cltrid,
            res_data=D.creData(D.name(name), D.crDate(record.created), D.exDate(record.expires)),
        )

    def domain_renew(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        name = self._domain_name(_text(obj, _q(DOMAIN, "name")))
        current = _text(obj, _q(DOMAIN, "curExpDate"))
        reg = self.registry
        if name.rsplit(".", 1)[-1] in reg.self_renew_tlds:
            raise Refusal(2101, "domain:renew is not implemented: the registry renews by itself")
        with reg.lock:
            record = self._own_domain(name)
            years = self._years(obj, name)
            if "clientRenewProhibited" in record.statuses or record.transfer_to:
                raise Refusal(2304, "the domain's status prohibits renewal")
            if record.expires[:10] != current:
                raise Refusal(2306, f"the current expiry date is {record.expires[:10]}")
            expires = dt.datetime.fromisoformat(record.expires.replace(".0Z", "+00:00"))
            if reg.renew_refusal:
                if reg.auto_renew:
                    record.expires = _iso(_add_years(expires, 1))
                    reg.save()
                raise Refusal(reg.renew_refusal, "the registry renews this domain itself")
            later = dt.timedelta(days=reg.renew_extra_days)
            record.expires = _iso(_add_years(expires, years) + later)
            reg.save()
        return self.answer(1000, cltrid, res_data=D.renData(D.name(name), D.exDate(record.expires)))

    def domain_restore(self, name: str, command: etree._Element, cltrid: str) -> etree._Element:
        """RFC 3915 restore, in its two steps (§3.2, §4.2.5). A request for a domain in its
        redemption period puts it in pendingRestore (still pendingDelete); the report that
        follows (two statements, a reason) makes it active again. A report for a domain
        not in pendingRestore is refused; a request without report falls back after
        pending_restore_period."""
        restore = command.find(f".//{_q(RGP, 'restore')}")
        assert restore is not None  # the schema requires it in <rgp:update>
        op = restore.get("op")
        reg = self.registry
        if name.rsplit(".", 1)[-1] not in RGP_TLDS:
            raise Refusal(2103, "no grace periods at this registry")
        with reg.lock:
            record = self._own_domain(name, deleted=True)
            state = reg.rgp_status(record)
            if op == "request":
                if state != "redemptionPeriod":
                    raise Refusal(2304, "the domain is not in its redemption period")
                record.restore_requested_at = _iso(reg.clock())
                reg.save()
                return self.answer(
                    1000, cltrid, extension=R.upData(R.rgpStatus(s="pendingRestore"))
                )
            if state != "pendingRestore":
                raise Refusal(2304, "no restore request waits for a report")
            report = restore.find(_q(RGP, "report"))
            if report is None:
                raise Refusal(2306, "a restore report without <rgp:report>")
            statements = [s for s in report.iter(_q(RGP, "statement")) if (s.text or "").strip()]
            if len(statements) != 2 or not _text(report, _q(RGP, "resReason")):
                raise Refusal(2306, "a restore report needs a reason and both statements")
            record.deleted_at = record.restore_requested_at = ""
            record.statuses = []
            reg.save()
        return self.answer(1000, cltrid)

    def domain_cancel_delete(self, el: etree._Element, cltrid: str) -> etree._Element:
        """SIDN's <sidn-ext-epp:domainCancelDelete>: a .nl name in quarantine is active
        again at once, with its contacts, nameservers and old expiry date (which, when it
        passed in quarantine, the registry then renews by itself as any .nl: a year from
        it, at the next command). Refused: without SIDN's extension at login (2103), for
        another TLD (2306), a name nobody holds or purged after the quarantine (2303),
        another registrar's (2201), one not in quarantine (2304). ◐ SIDN's pages say the
        last registrant may get the name back through another registrar too; how that
        registrar does it is not in them, so here only the registrar that deleted it can.
        The codes are the RFC 5730 ones that fit; SIDN's own are not confirmed."""
        if not self.sidn:
            raise Refusal(2103, "log in with sidn-ext-epp to use its commands")
        name = self._domain_name(_text(el, _q(SIDN, "name")))
        if _tld(name) not in QUARANTINE_TLDS:
            raise Refusal(2306, f"domainCancelDelete is not for .{_tld(name)}")
        reg = self.registry
        with reg.lock:
            record = self._own_domain(name, deleted=True)
            if not record.deleted_at:
                raise Refusal(2304, "the domain is not in quarantine")
            record.deleted_at = ""
            record.statuses = []
            reg.save()
        return self.answer(1000, cltrid)

    def domain_update(
        self, obj: etree._Element, cltrid: str, command: etree._Element
    ) -> etree._Element:
        name = self._domain_name(_text(obj, _q(DOMAIN, "name")))
        if command.find(f".//{_q(RGP, 'update')}") is not None:
            return self.domain_restore(name, command, cltrid)
        reg = self.registry
        with reg.lock:
            record = self._own_domain(name)
            add, rem, chg = (obj.find(_q(DOMAIN, tag)) for tag in ("add", "rem", "chg"))
            removing = (
                {s.get("s", "") for s in rem.iter(_q(DOMAIN, "status"))}
                if rem is not None
                else set()
            )
            if record.transfer_to or (
                "clientUpdateProhibited" in record.statuses
                and "clientUpdateProhibited" not in removing
            ):
                raise Refusal(2304, "the domain's status prohibits updates")
            added_ns = (
                [(h.text or "").strip().lower() for h in add.iter(_q(DOMAIN, "hostObj"))]
                if add is not None
                else []
            )
            self._hosts_exist(added_ns)
            if chg is not None:
                new_registrant = _text(chg, _q(DOMAIN, "registrant"))
                if new_registrant:
                    contact = reg.contacts.get(new_registrant)
                    if contact is None:
                        raise Refusal(2303, f"contact {new_registrant} does not exist")
                    record.registrant = new_registrant
                new_pw = _text(chg, f"{_q(DOMAIN, 'authInfo')}/{_q(DOMAIN, 'pw')}")
                if new_pw:
                    record.auth_pw = new_pw
            if rem is not None:
                gone = {(h.text or "").strip().lower() for h in rem.iter(_q(DOMAIN, "hostObj"))}
                record.nameservers = [h for h in record.nameservers if h not in gone]
                record.statuses = [s for s in record.statuses if s not in removing]
            record.nameservers += [h for h in added_ns if h not in record.nameservers]
            if add is not None:
                record.statuses += [s.get("s", "") for s in add.iter(_q(DOMAIN, "status"))]
            reg.save()
        return self.answer(1000, cltrid)

    def domain_delete(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        name = self._domain_name(_text(obj, _q(DOMAIN, "name")))
        reg = self.registry
        with reg.lock:
            record = self._own_domain(name)
            if "clientDeleteProhibited" in record.statuses or record.transfer_to:
                raise Refusal(2304, "the domain's status prohibits deletion")
            if _tld(name) in RGP_TLDS or _tld(name) in QUARANTINE_TLDS:
                # Kept: in redemption (RFC 3915), or in SIDN's quarantine (◐ what SIDN's
                # <info> shows then is not confirmed; its Whois says "in quarantaine").
                record.deleted_at = _iso(reg.clock())
                record.statuses = ["pendingDelete"]
            else:
                del reg.domains[name]
            reg.save()
        return self.answer(1000, cltrid)

    def domain_transfer(
        self, obj: etree._Element, cltrid: str, command: etree._Element
    ) -> etree._Element:
        transfer = command.find(_q(EPP, "transfer"))
        assert transfer is not None
        op = transfer.get("op", "")
        name = self._domain_name(_text(obj, _q(DOMAIN, "name")))
        given_pw = _text(obj, f"{_q(DOMAIN, 'authInfo')}/{_q(DOMAIN, 'pw')}")
        reg = self.registry
        with reg.lock:
            reg.transfers_due()
            record = reg.domains.get(name)
            if record is None:
                raise Refusal(2303, name)
            if record.deleted_at:
                raise Refusal(2304, "the domain is pendingDelete")
            if op == "request":
                if record.sponsor == self.client_id:
                    raise Refusal(2106, "the domain is already yours")
                if record.transfer_to:
                    raise Refusal(2300)
                if given_pw != record.auth_pw:
                    raise self._sidn_refusal(2202, "wrong auth code", "T0002")
                years = self._transfer_years(obj, name)
                now = _iso(_now())
                losing = record.sponsor
                if name.endswith(".nl"):
                    # SIDN: the right token moves the domain at once.
                    record.transfer_approved(self.client_id)
                    code, status = 1000, "serverApproved"
                else:
                    record.transfer_to, record.transfer_at = self.client_id, now
                    record.transfer_years = years
                    code, status = 1001, "pending"
                reg.tell(losing, status, record, self.client_id)
                reg.save()
                return self.answer(code, cltrid, res_data=self._trn(record, status, now))
            if op == "query":
                if (
                    self.client_id not in (record.sponsor, record.transfer_to)
                    and given_pw != record.auth_pw
                ):
                    raise Refusal(2201)
                if not record.transfer_to:
                    raise Refusal(2301)
                return self.answer(
                    1000, cltrid, res_data=self._trn(record, "pending", record.transfer_at)
                )
            if op == "cancel":
                if not record.transfer_to:
                    raise Refusal(2301)
                if record.transfer_to != self.client_id:
                    raise Refusal(2201)
                at = record.transfer_at
                record.transfer_to = record.transfer_at = ""
                record.transfer_years = 0
                reg.tell(record.sponsor, "clientCancelled", record, self.client_id)
                reg.save()
                return self.answer(
                    1000,
                    cltrid,
                    res_data=self._trn(record, "clientCancelled", at, gaining=self.client_id),
                )
            if op in ("approve", "reject"):
                if record.sponsor != self.client_id:
                    raise Refusal(2201)
                if not record.transfer_to:
                    raise Refusal(2301)
                gaining, at = record.transfer_to, record.transfer_at
                if op == "approve":
                    record.transfer_approved(gaining)
                record.transfer_to = record.transfer_at = ""
                record.transfer_years = 0
                status = "clientApproved" if op == "approve" else "clientRejected"
                reg.tell(gaining, status, record, gaining)
                reg.save()
                return self.answer(
                    1000, cltrid, res_data=self._trn(record, status, at, gaining=gaining)
                )
        raise Refusal(2001, f"unknown op {op}")

    def _trn(
        self, record: DomainRecord, status: str, at: str, *, gaining: str = ""
    ) -> etree._Element:
        return D.trnData(
            D.name(record.name),
            D.trStatus(status),
            D.reID(gaining or record.transfer_to or record.sponsor),
            D.reDate(at),
            D.acID(record.sponsor),
            D.acDate(at),
            D.exDate(record.expires),
        )

    # contacts

    def contact_check(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        with self.registry.lock:
            rows = [
                C.cd(
                    C.id(
                        (el.text or "").strip(),
                        avail="0" if (el.text or "").strip() in self.registry.contacts else "1",
                    )
                )
                for el in obj.iter(_q(CONTACT, "id"))
            ]
        return self.answer(1000, cltrid, res_data=C.chkData(*rows))

    def _sidn_contact(self, command: etree._Element) -> tuple[str, str]:
        contact = command.find(f".//{_q(SIDN, 'contact')}")
        return _text(contact, _q(SIDN, "legalForm")), _text(contact, _q(SIDN, "legalFormRegNo"))

    def contact_create(
        self, obj: etree._Element, cltrid: str, command: etree._Element
    ) -> etree._Element:
        handle = _text(obj, _q(CONTACT, "id"))
        postal = obj.find(_q(CONTACT, "postalInfo"))
        legal_form, reg_no = self._sidn_contact(command)
        if self.sidn:
            if not legal_form:
                raise self._sidn_refusal(2306, "SIDN needs the contact's legal form", "C0002")
            if legal_form not in SIDN_LEGAL_FORMS:
                raise self._sidn_refusal(2005, f"unknown legal form {legal_form}", "C0004")
            if legal_form != "PERSOON" and not reg_no:
                raise self._sidn_refusal(
                    2306, f"legal form {legal_form} needs a registration number (KvK)", "C0003"
                )
        if not _text(obj, _q(CONTACT, "email")) or "@" not in _text(obj, _q(CONTACT, "email")):
            raise Refusal(2005, "an email address is required")
        reg = self.registry
        with reg.lock:
            if handle in reg.contacts:
                raise Refusal(2302, handle)
            addr = postal.find(_q(CONTACT, "addr")) if postal is not None else None
            record = ContactRecord(
                handle=handle,
                roid=reg.next_id("C"),
                sponsor=self.client_id,
                name=_text(postal, _q(CONTACT, "name")),
                org=_text(postal, _q(CONTACT, "org")),
                street=[(s.text or "") for s in addr.iter(_q(CONTACT, "street"))]
                if addr is not None
                else [],
                city=_text(addr, _q(CONTACT, "city")),
                postcode=_text(addr, _q(CONTACT, "pc")),
                country=_text(addr, _q(CONTACT, "cc")),
                email=_text(obj, _q(CONTACT, "email")),
                voice=_text(obj, _q(CONTACT, "voice")),
                auth_pw=_text(obj, f"{_q(CONTACT, 'authInfo')}/{_q(CONTACT, 'pw')}"),
                legal_form=legal_form,
                legal_form_reg_no=reg_no,
            )
            reg.contacts[handle] = record
            reg.save()
        return self.answer(1000, cltrid, res_data=C.creData(C.id(handle), C.crDate(_iso(_now()))))

    def _own_contact(self, handle: str) -> ContactRecord:
        record = self.registry.contacts.get(handle)
        if record is None:
            raise Refusal(2303, handle)
        if record.sponsor != self.client_id:
            raise Refusal(2201, "the contact belongs to another registrar")
        return record

    def contact_info(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        with self.registry.lock:
            c = self._own_contact(_text(obj, _q(CONTACT, "id")))
            addr = C.addr(
                *[C.street(s) for s in c.street], C.city(c.city), C.pc(c.postcode), C.cc(c.country)
            )
            postal = C.postalInfo(
                C.name(c.name), *([C.org(c.org)] if c.org else []), addr, type="loc"
            )
            parts = [C.id(c.handle), C.roid(c.roid), C.status(s="ok"), postal]
            if c.voice:
                parts.append(C.voice(c.voice))
            parts += [
                C.email(c.email),
                C.clID(c.sponsor),
                C.crID(c.sponsor),
                C.crDate(_iso(_now())),
            ]
        return self.answer(1000, cltrid, res_data=C.infData(*parts))

    def contact_update(
        self, obj: etree._Element, cltrid: str, command: etree._Element
    ) -> etree._Element:
        legal_form, reg_no = self._sidn_contact(command)
        if self.sidn and legal_form and legal_form not in SIDN_LEGAL_FORMS:
            raise self._sidn_refusal(2005, f"unknown legal form {legal_form}", "C0004")
        if self.sidn and legal_form not in ("", "PERSOON") and not reg_no:
            raise self._sidn_refusal(
                2306, f"legal form {legal_form} needs a registration number (KvK)", "C0003"
            )
        reg = self.registry
        with reg.lock:
            c = self._own_contact(_text(obj, _q(CONTACT, "id")))
            chg = obj.find(_q(CONTACT, "chg"))
            if chg is not None:
                postal = chg.find(_q(CONTACT, "postalInfo"))
                if postal is not None:
                    c.name = _text(postal, _q(CONTACT, "name")) or c.name
                    c.org = _text(postal, _q(CONTACT, "org"))
                    addr = postal.find(_q(CONTACT, "addr"))
                    if addr is not None:
                        c.street = [(s.text or "") for s in addr.iter(_q(CONTACT, "street"))]
                        c.city = _text(addr, _q(CONTACT, "city"))
                        c.postcode = _text(addr, _q(CONTACT, "pc"))
                        c.country = _text(addr, _q(CONTACT, "cc"))
                c.email = _text(chg, _q(CONTACT, "email")) or c.email
                c.voice = _text(chg, _q(CONTACT, "voice")) or c.voice
            if legal_form:
                c.legal_form, c.legal_form_reg_no = legal_form, reg_no
            reg.save()
        return self.answer(1000, cltrid)

    def contact_delete(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        reg = self.registry
        with reg.lock:
            c = self._own_contact(_text(obj, _q(CONTACT, "id")))
            for d in reg.domains.values():
                if d.registrant == c.handle or any(h == c.handle for _t, h in d.contacts):
                    raise Refusal(2305, f"contact is linked to {d.name}")
            del reg.contacts[c.handle]
            reg.save()
        return self.answer(1000, cltrid)

    # hosts

    def host_check(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        with self.registry.lock:
            rows = []
            for el in obj.iter(_q(HOST, "name")):
                name = (el.text or "").strip().lower()
                rows.append(H.cd(H.name(name, avail="0" if name in self.registry.hosts else "1")))
        return self.answer(1000, cltrid, res_data=H.chkData(*rows))

    def host_create(self, obj: etree._Element, cltrid: str, _: etree._Element) -> etree._Element:
        name = _text(obj, _q(HOST, "name")).lower()
        addresses = [
            (a.get("ip", "v4"), (a.text or "").strip()) for a in obj.iter(_q(HOST, "addr"))
        ]
        for _v, ip in addresses:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise Refusal(2005, f"{ip} is not an IP address") from None
        reg = self.registry
        with reg.lock:
            if name in reg.hosts:
                raise Refusal(2302, name)
            in_zone = name.rsplit(".", 1)[-1] in TLDS and name.split(".", 1)[-1] in reg.domains
            if in_zone and not addresses:
                raise Refusal(2308, "a host inside a domain of this registry needs an address")
            reg.hosts[name] = HostRecord(name, reg.next_id("H"), self.client_id, addresses)
            reg.save()
        return self.answer(1000, cltrid, res_data=H.creData(H.name(name), H.crDate(_iso(_now()))))

    # poll

    def _poll_data(self, message: PollMessage) -> etree._Element | None:
        """A transfer message carries its <domain:trnData>, as registries send it; a
        pending action's result its <domain:panData>."""
        if message.pa_result and message.domain:
            return D.panData(
                D.name(message.domain, paResult=message.pa_result),
                D.paTRID(E.svTRID(f"{message.id}-PA")),
                D.paDate(message.at),
            )
        record = self.registry.domains.get(message.domain) if message.domain else None
        if record is None or not message.text.startswith("Transfer "):
            return None
        status = message.text.split()[1]
        return D.trnData(
            D.name(record.name),
            D.trStatus(status),
            D.reID(message.gaining or record.transfer_to or record.sponsor),
            D.reDate(message.at),
            D.acID(self.client_id),
            D.acDate(message.at),
            D.exDate(record.expires),
        )

    def poll(self, el: etree._Element, cltrid: str) -> etree._Element:
        reg = self.registry
        with reg.lock:
            reg.transfers_due()
            queue = reg.polls.setdefault(self.client_id, [])
            if el.get("op") == "req":
                if not queue:
                    return self.answer(1300, cltrid)
                head = queue[0]
                msgq = E.msgQ(E.qDate(head.at), E.msg(head.text), count=str(len(queue)), id=head.id)
                return self.answer(1301, cltrid, msgq=msgq, res_data=self._poll_data(head))
            wanted = el.get("msgID", "")
            if not queue or queue[0].id != wanted:
                raise Refusal(2303, f"no message {wanted}")
            queue.pop(0)
            reg.save()
            msgq = E.msgQ(count=str(len(queue)), id=queue[0].id if queue else wanted)
            return self.answer(1000, cltrid, msgq=msgq)


def _tld(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _object_kind(obj: etree._Element) -> str:
    ns = etree.QName(obj).namespace
    return {DOMAIN: "domain", CONTACT: "contact", HOST: "host"}.get(ns or "", "other")


def _add_years(value: dt.datetime, years: int) -> dt.datetime:
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value.replace(year=value.year + years, day=28)


# --- the server ---------------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.exists() and key_path.exists():
        # Kept across restarts, so running clients that trust it keep working.
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if existing.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
            return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kluis local EPP registry")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


class _Handler(socketserver.BaseRequestHandler):
    server: EppServer

    def handle(self) -> None:
        registry = self.server.registry
        try:
            conn = self.server.tls.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        conn.settimeout(self.server.idle_timeout)
        session = Session(registry)
        try:
            conn.sendall(encode_frame(serialize(session.greeting())))
            while True:
                try:
                    data = read_frame(conn, max_size=COMMAND_LIMIT)
                except (FrameError, OSError):
                    return
                try:
                    root = parse(data)
                    validate(root)
                except XmlRefused as exc:
                    conn.sendall(
                        encode_frame(serialize(session.answer(2001, "", reason=str(exc)[:200])))
                    )
                    continue
                try:
                    answer, close = session.handle(root)
                except Dropped:
                    return
                name = registry.received[-1] if registry.received else ""
                faults = registry.faults
                if Faults.matches(faults.oversized_on, name):
                    conn.sendall((100 * 1024 * 1024).to_bytes(4, "big") + b"<epp")
                    return
                if Faults.matches(faults.malformed_on, name):
                    conn.sendall(encode_frame(b"<epp><response><result code='1000'>"))
                    continue
                if Faults.matches(faults.doctype_on, name):
                    body = (
                        b'<?xml version="1.0"?><!DOCTYPE epp [<!ENTITY x "x">]>'
                        + serialize(answer).split(b"?>", 1)[1]
                    )
                    conn.sendall(encode_frame(body))
                    continue
                conn.sendall(encode_frame(serialize(answer)))
                if close:
                    return
        except OSError:
            return
        finally:
            session.end()
            with contextlib.suppress(OSError):
                conn.close()


class EppServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], registry: Registry, tls: ssl.SSLContext) -> None:
        self.registry = registry
        self.tls = tls
        self.idle_timeout = 600.0
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def local_passwords(password: str) -> dict[str, str]:
    keys = ("sidn", "eurid", "dnsbelgium", "denic", "verisign", "pir")
    accounts = {f"kluis-{k}": password for k in keys}
    accounts[OTHER_REGISTRAR] = password  # a competitor, for transfers in tests
    return accounts


def make_server(
    *,
    cert_dir: Path,
    password: str,
    port: int = 0,
    store: Path | None = None,
    max_sessions: int = 4,
) -> EppServer:
    if not isinstance(port, int):
        raise TypeError("port")
    cert, key = make_certificate(cert_dir)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(cert, key)
    registry = Registry(passwords=local_passwords(password), max_sessions=max_sessions, store=store)
    registry.load()
    return EppServer(("127.0.0.1", port), registry, tls)


@dataclass
class Running:
    server: EppServer
    thread: threading.Thread
    cert: Path

    @property
    def registry(self) -> Registry:
        return self.server.registry

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(*, cert_dir: Path, password: str, max_sessions: int = 4) -> Running:
    """Start a local registry in a thread on a free port (tests); `stop()` ends it."""
    server = make_server(cert_dir=cert_dir, password=password, max_sessions=max_sessions)
    thread = threading.Thread(target=server.serve_forever, name="epp-local", daemon=True)
    thread.start()
    return Running(server, thread, cert_dir / "cert.pem")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
