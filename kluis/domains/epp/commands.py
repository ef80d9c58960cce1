"""Every EPP command kluis sends, as an lxml tree (never as formatted text).

Builders take plain values and return the <epp> root with a fresh clTRID; the client
validates the tree against the schemas before it sends it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree  # type: ignore[import-untyped]
from lxml.builder import ElementMaker  # type: ignore[import-untyped]

from kluis.domains.epp.xml import CONTACT, DOMAIN, EPP, HOST, RGP, SIDN

E = ElementMaker(namespace=EPP, nsmap={None: EPP})
D = ElementMaker(namespace=DOMAIN, nsmap={"domain": DOMAIN})
C = ElementMaker(namespace=CONTACT, nsmap={"contact": CONTACT})
H = ElementMaker(namespace=HOST, nsmap={"host": HOST})
S = ElementMaker(namespace=SIDN, nsmap={"sidn-ext-epp": SIDN})
R = ElementMaker(namespace=RGP, nsmap={"rgp": RGP})


def new_cltrid() -> str:
    # Unique per command, so an answer can be matched to its question and the
    # registry's logs to ours.
    return f"kluis-{secrets.token_hex(12)}"


@dataclass(frozen=True)
class PostalInfo:
    name: str
    street: Sequence[str]
    city: str
    postcode: str
    country: str
    org: str = ""
    # "loc" allows UTF-8; "int" only 7-bit ASCII (RFC 5733 §2.3).
    kind: str = "loc"


@dataclass(frozen=True)
class ContactData:
    handle: str
    postal: PostalInfo
    email: str
    voice: str = ""
    auth_pw: str = field(default_factory=lambda: secrets.token_urlsafe(12)[:16])
    # SIDN: legal form (PERSOON, BV, ...) and KvK number for a company.
    legal_form: str = ""
    legal_form_reg_no: str = ""


def _command(body: etree._Element, *, extension: etree._Element | None = None) -> etree._Element:
    parts = [body]
    if extension is not None:
        parts.append(E.extension(extension))
    parts.append(E.clTRID(new_cltrid()))
    return E.epp(E.command(*parts))


def hello() -> etree._Element:
    return E.epp(E.hello())


def login(
    *,
    client_id: str,
    password: str,
    objects: Sequence[str],
    extensions: Sequence[str] = (),
    new_password: str = "",
) -> etree._Element:
    parts = [E.clID(client_id), E.pw(password)]
    if new_password:
        parts.append(E.newPW(new_password))
    parts.append(E.options(E.version("1.0"), E.lang("en")))
    svcs = [E.objURI(uri) for uri in objects]
    if extensions:
        svcs.append(E.svcExtension(*[E.extURI(uri) for uri in extensions]))
    parts.append(E.svcs(*svcs))
    return _command(E.login(*parts))


def logout() -> etree._Element:
    return _command(E.logout())


def poll_request() -> etree._Element:
    return _command(E.poll(op="req"))


def poll_ack(message_id: str) -> etree._Element:
    return _command(E.poll(op="ack", msgID=message_id))


# --- domains (RFC 5731) ------------------------------------------------------------


def domain_check(names: Sequence[str]) -> etree._Element:
    return _command(E.check(D.check(*[D.name(n) for n in names])))


def domain_info(name: str, *, auth_pw: str = "") -> etree._Element:
    parts = [D.name(name, hosts="all")]
    if auth_pw:
        parts.append(D.authInfo(D.pw(auth_pw)))
    return _command(E.info(D.info(*parts)))


def _period(years: int) -> etree._Element:
    return D.period(str(years), unit="y")


def domain_create(
    *,
    name: str,
    years: int,
    registrant: str,
    auth_pw: str,
    nameservers: Sequence[str] = (),
    admin: str = "",
    tech: str = "",
) -> etree._Element:
    parts = [D.name(name), _period(years)]
    if nameservers:
        parts.append(D.ns(*[D.hostObj(ns) for ns in nameservers]))
    parts.append(D.registrant(registrant))
    if admin:
        parts.append(D.contact(admin, type="admin"))
    if tech:
        parts.append(D.contact(tech, type="tech"))
    parts.append(D.authInfo(D.pw(auth_pw)))
    return _command(E.create(D.create(*parts)))


def domain_renew(*, name: str, current_expiry: dt.date, years: int) -> etree._Element:
    return _command(
        E.renew(D.renew(D.name(name), D.curExpDate(current_expiry.isoformat()), _period(years)))
    )


def domain_update(
    *,
    name: str,
    add_ns: Sequence[str] = (),
    remove_ns: Sequence[str] = (),
    add_status: Sequence[str] = (),
    remove_status: Sequence[str] = (),
    registrant: str = "",
    auth_pw: str = "",
) -> etree._Element:
    parts = [D.name(name)]
    if add_ns or add_status:
        add = []
        if add_ns:
            add.append(D.ns(*[D.hostObj(ns) for ns in add_ns]))
        add.extend(D.status(s=s) for s in add_status)
        parts.append(D.add(*add))
    if remove_ns or remove_status:
        rem = []
        if remove_ns:
            rem.append(D.ns(*[D.hostObj(ns) for ns in remove_ns]))
        rem.extend(D.status(s=s) for s in remove_status)
        parts.append(D.rem(*rem))
    if registrant or auth_pw:
        chg = []
        if registrant:
            chg.append(D.registrant(registrant))
        if auth_pw:
            chg.append(D.authInfo(D.pw(auth_pw)))
        parts.append(D.chg(*chg))
    return _command(E.update(D.update(*parts)))


def domain_restore(name: str) -> etree._Element:
    """Ask the registry to restore `name`, deleted and in its redemption period (RFC 3915
    §4.2.5: an <update> with an empty <chg> and <rgp:restore op="request">)."""
    return _command(
        E.update(D.update(D.name(name), D.chg())),
        extension=R.update(R.restore(op="request")),
    )


@dataclass(frozen=True)
class RestoreReport:
    """What RFC 3915 §4.2.5 asks of the registrar after a restore request: the domain's
    data before the delete and after the restore, when it was deleted and restored, why,
    and the registrar's two statements (§3.3: not restored to take the name for itself
    or a third party; the report is true to its knowledge)."""

    pre_data: str
    post_data: str
    deleted_at: dt.datetime
    restored_at: dt.datetime
    reason: str
    statements: tuple[str, str]
    other: str = ""


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0Z")


def domain_restore_report(name: str, report: RestoreReport) -> etree._Element:
    """The restore report (RFC 3915 §4.2.5, op="report") that completes a restore the
    registry holds in pendingRestore."""
    parts = [
        R.preData(report.pre_data),
        R.postData(report.post_data),
        R.delTime(_utc(report.deleted_at)),
        R.resTime(_utc(report.restored_at)),
        R.resReason(report.reason),
        *[R.statement(text) for text in report.statements],
    ]
    if report.other:
        parts.append(R.other(report.other))
    return _command(
        E.update(D.update(D.name(name), D.chg())),
        extension=R.update(R.restore(R.report(*parts), op="report")),
    )


def domain_cancel_delete(name: str) -> etree._Element:
    """SIDN's own command that takes a deleted .nl name back out of its quarantine
    (`sidn-ext-epp` 1.0: <extension><sidn-ext-epp:command><domainCancelDelete>). It is a
    command of the extension, not of EPP: it stands in <epp><extension>, and carries its
    clTRID in SIDN's namespace."""
    return E.epp(E.extension(S.command(S.domainCancelDelete(S.name(name)), S.clTRID(new_cltrid()))))


def domain_transfer(
    *, op: str, name: str, auth_pw: str = "", years: int | None = None
) -> etree._Element:
    parts = [D.name(name)]
    if years is not None:
        parts.append(_period(years))
    if auth_pw:
        parts.append(D.authInfo(D.pw(auth_pw)))
    return _command(E.transfer(D.transfer(*parts), op=op))


def domain_delete(name: str) -> etree._Element:
    return _command(E.delete(D.delete(D.name(name))))


# --- contacts (RFC 5733) -----------------------------------------------------------


def _postal(p: PostalInfo) -> etree._Element:
    parts = [C.name(p.name)]
    if p.org:
        parts.append(C.org(p.org))
    addr = [C.street(line) for line in p.street[:3]]
    addr += [C.city(p.city), C.pc(p.postcode), C.cc(p.country)]
    parts.append(C.addr(*addr))
    return C.postalInfo(*parts, type=p.kind)


def _sidn_contact(data: ContactData, verb: str) -> etree._Element | None:
    if not data.legal_form:
        return None
    parts = [S.legalForm(data.legal_form)]
    if data.legal_form_reg_no:
        parts.append(S.legalFormRegNo(data.legal_form_reg_no))
    wrapper = S.create if verb == "create" else S.update
    return S.ext(wrapper(S.contact(*parts)))


def contact_create(data: ContactData, *, sidn: bool = False) -> etree._Element:
    parts = [C.id(data.handle), _postal(data.postal)]
    if data.voice:
        parts.append(C.voice(data.voice))
    parts += [C.email(data.email), C.authInfo(C.pw(data.auth_pw))]
    ext = _sidn_contact(data, "create") if sidn else None
    return _command(E.create(C.create(*parts)), extension=ext)


def contact_info(handle: str) -> etree._Element:
    return _command(E.info(C.info(C.id(handle))))


def contact_update(data: ContactData, *, sidn: bool = False) -> etree._Element:
    chg = [_postal(data.postal)]
    if data.voice:
        chg.append(C.voice(data.voice))
    chg.append(C.email(data.email))
    ext = _sidn_contact(data, "update") if sidn else None
    return _command(E.update(C.update(C.id(data.handle), C.chg(*chg))), extension=ext)


def contact_delete(handle: str) -> etree._Element:
    return _command(E.delete(C.delete(C.id(handle))))


# --- hosts (RFC 5732) --------------------------------------------------------------


def host_create(name: str, addresses: Sequence[tuple[str, str]] = ()) -> etree._Element:
    parts = [H.name(name)] + [H.addr(ip, ip=version) for version, ip in addresses]
    return _command(E.create(H.create(*parts)))


def host_check(names: Sequence[str]) -> etree._Element:
    return _command(E.check(H.check(*[H.name(n) for n in names])))


def cltrid_of(root: etree._Element) -> str:
    found = root.find(f"{{{EPP}}}command/{{{EPP}}}clTRID")
    if found is None:  # an extension's own command (SIDN's domainCancelDelete)
        found = root.find(f"{{{EPP}}}extension/{{{SIDN}}}command/{{{SIDN}}}clTRID")
    return found.text or "" if found is not None else ""
