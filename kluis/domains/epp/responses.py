"""EPP answers as typed values, read from a tree the hardened parser produced."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lxml import etree  # type: ignore[import-untyped]

from kluis.domains.epp.xml import CONTACT, DOMAIN, EPP, HOST, RGP, SIDN, XmlRefused

# Result codes of RFC 5730 §3 that kluis acts on by name.
OK = 1000
PENDING = 1001
NO_MESSAGES = 1300
MESSAGE = 1301
ENDING_SESSION = 1500
COMMAND_USE_ERROR = 2002
PARAMETER_SYNTAX = 2005
AUTHENTICATION = 2200
AUTHORIZATION = 2201
INVALID_AUTH_INFO = 2202
OBJECT_EXISTS = 2302
NOT_ELIGIBLE_FOR_RENEWAL = 2105
OBJECT_DOES_NOT_EXIST = 2303
STATUS_PROHIBITS = 2304
ASSOCIATION_PROHIBITS = 2305
PARAMETER_POLICY = 2306
DATA_POLICY = 2308
COMMAND_FAILED = 2400
SESSION_LIMIT = 2502


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _text(el: etree._Element | None, path: str) -> str:
    if el is None:
        return ""
    found = el.find(path)
    return (found.text or "").strip() if found is not None else ""


def _datetime(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Greeting:
    server_id: str
    objects: tuple[str, ...]
    extensions: tuple[str, ...]


@dataclass(frozen=True)
class Response:
    code: int
    message: str
    reason: str
    cltrid: str
    svtrid: str
    res_data: etree._Element | None
    extension: etree._Element | None
    queue_count: int = 0
    queue_id: str = ""
    queue_message: str = ""
    queue_date: dt.datetime | None = None
    # SIDN's own explanation of a refusal (<sidn-ext-epp:msg code=...>).
    registry_messages: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.code < 2000

    def explain(self) -> str:
        """The registry's own words, for the domains desk."""
        parts = [f"{self.code} {self.message}"]
        if self.reason:
            parts.append(self.reason)
        parts.extend(self.registry_messages)
        return " — ".join(parts)


def read_greeting(root: etree._Element) -> Greeting:
    greeting = root.find(_q(EPP, "greeting"))
    if greeting is None:
        raise XmlRefused("expected a greeting")
    svc = greeting.find(_q(EPP, "svcMenu"))
    objects = tuple(e.text or "" for e in svc.iter(_q(EPP, "objURI"))) if svc is not None else ()
    exts = tuple(e.text or "" for e in svc.iter(_q(EPP, "extURI"))) if svc is not None else ()
    return Greeting(server_id=_text(greeting, _q(EPP, "svID")), objects=objects, extensions=exts)


def read_response(root: etree._Element) -> Response:
    resp = root.find(_q(EPP, "response"))
    if resp is None:
        raise XmlRefused("expected a response")
    result = resp.find(_q(EPP, "result"))
    if result is None:
        raise XmlRefused("a response without a result")
    try:
        code = int(result.get("code", ""))
    except ValueError:
        raise XmlRefused("a result without a numeric code") from None
    reason = " ".join(
        (r.text or "").strip() for r in result.iter(_q(EPP, "reason")) if (r.text or "").strip()
    )
    msgq = resp.find(_q(EPP, "msgQ"))
    ext = resp.find(_q(EPP, "extension"))
    registry_messages: tuple[str, ...] = ()
    if ext is not None:
        registry_messages = tuple(
            f"{m.get('code', '')} {(m.text or '').strip()}".strip()
            for m in ext.iter(_q(SIDN, "msg"))
        )
    queue_message = ""
    if msgq is not None:
        msg = msgq.find(_q(EPP, "msg"))
        queue_message = "".join(msg.itertext()).strip() if msg is not None else ""
    return Response(
        code=code,
        message=_text(result, _q(EPP, "msg")),
        reason=reason,
        cltrid=_text(resp, f"{_q(EPP, 'trID')}/{_q(EPP, 'clTRID')}"),
        svtrid=_text(resp, f"{_q(EPP, 'trID')}/{_q(EPP, 'svTRID')}"),
        res_data=resp.find(_q(EPP, "resData")),
        extension=ext,
        queue_count=int(msgq.get("count", "0")) if msgq is not None else 0,
        queue_id=msgq.get("id", "") if msgq is not None else "",
        queue_message=queue_message,
        queue_date=_datetime(_text(msgq, _q(EPP, "qDate"))) if msgq is not None else None,
        registry_messages=registry_messages,
    )


@dataclass(frozen=True)
class Availability:
    name: str
    available: bool
    reason: str


def read_domain_check(resp: Response) -> list[Availability]:
    out: list[Availability] = []
    if resp.res_data is None:
        return out
    for cd in resp.res_data.iter(_q(DOMAIN, "cd")):
        name = cd.find(_q(DOMAIN, "name"))
        if name is None:
            continue
        out.append(
            Availability(
                name=(name.text or "").strip(),
                available=name.get("avail") in ("1", "true"),
                reason=_text(cd, _q(DOMAIN, "reason")),
            )
        )
    return out


@dataclass(frozen=True)
class DomainInfo:
    name: str
    roid: str
    statuses: tuple[str, ...]
    registrant: str
    contacts: tuple[tuple[str, str], ...]
    nameservers: tuple[str, ...]
    sponsor: str
    created: dt.datetime | None
    expires: dt.datetime | None
    auth_pw: str
    # RFC 3915 grace period statuses (<rgp:infData>), e.g. "redemptionPeriod".
    rgp_statuses: tuple[str, ...] = ()


def rgp_statuses(resp: Response) -> tuple[str, ...]:
    """The grace period statuses in an answer's extension (<rgp:infData>/<rgp:upData>)."""
    if resp.extension is None:
        return ()
    return tuple(s.get("s", "") for s in resp.extension.iter(_q(RGP, "rgpStatus")))


def read_domain_info(resp: Response) -> DomainInfo:
    data = resp.res_data.find(_q(DOMAIN, "infData")) if resp.res_data is not None else None
    if data is None:
        raise XmlRefused("a domain info answer without infData")
    ns = data.find(_q(DOMAIN, "ns"))
    return DomainInfo(
        name=_text(data, _q(DOMAIN, "name")),
        roid=_text(data, _q(DOMAIN, "roid")),
        statuses=tuple(s.get("s", "") for s in data.iter(_q(DOMAIN, "status"))),
        registrant=_text(data, _q(DOMAIN, "registrant")),
        contacts=tuple(
            (c.get("type", ""), (c.text or "").strip()) for c in data.iter(_q(DOMAIN, "contact"))
        ),
        nameservers=tuple((h.text or "").strip() for h in ns.iter(_q(DOMAIN, "hostObj")))
        if ns is not None
        else (),
        sponsor=_text(data, _q(DOMAIN, "clID")),
        created=_datetime(_text(data, _q(DOMAIN, "crDate"))),
        expires=_datetime(_text(data, _q(DOMAIN, "exDate"))),
        auth_pw=_text(data, f"{_q(DOMAIN, 'authInfo')}/{_q(DOMAIN, 'pw')}"),
        rgp_statuses=rgp_statuses(resp),
    )


@dataclass(frozen=True)
class DomainCreated:
    name: str
    created: dt.datetime | None
    expires: dt.datetime | None


def read_domain_created(resp: Response) -> DomainCreated:
    data = resp.res_data.find(_q(DOMAIN, "creData")) if resp.res_data is not None else None
    if data is None:
        raise XmlRefused("a domain create answer without creData")
    return DomainCreated(
        name=_text(data, _q(DOMAIN, "name")),
        created=_datetime(_text(data, _q(DOMAIN, "crDate"))),
        expires=_datetime(_text(data, _q(DOMAIN, "exDate"))),
    )


def read_domain_renewed(resp: Response) -> dt.datetime | None:
    data = resp.res_data.find(_q(DOMAIN, "renData")) if resp.res_data is not None else None
    return _datetime(_text(data, _q(DOMAIN, "exDate")))


@dataclass(frozen=True)
class Transfer:
    name: str
    status: str
    requested_by: str
    acting: str
    expires: dt.datetime | None


def read_domain_transfer(resp: Response) -> Transfer:
    data = resp.res_data.find(_q(DOMAIN, "trnData")) if resp.res_data is not None else None
    if data is None:
        raise XmlRefused("a transfer answer without trnData")
    return Transfer(
        name=_text(data, _q(DOMAIN, "name")),
        status=_text(data, _q(DOMAIN, "trStatus")),
        requested_by=_text(data, _q(DOMAIN, "reID")),
        acting=_text(data, _q(DOMAIN, "acID")),
        expires=_datetime(_text(data, _q(DOMAIN, "exDate"))),
    )


@dataclass(frozen=True)
class ContactInfo:
    handle: str
    roid: str
    sponsor: str
    name: str
    email: str


def read_contact_info(resp: Response) -> ContactInfo:
    data = resp.res_data.find(_q(CONTACT, "infData")) if resp.res_data is not None else None
    if data is None:
        raise XmlRefused("a contact info answer without infData")
    postal = data.find(_q(CONTACT, "postalInfo"))
    return ContactInfo(
        handle=_text(data, _q(CONTACT, "id")),
        roid=_text(data, _q(CONTACT, "roid")),
        sponsor=_text(data, _q(CONTACT, "clID")),
        name=_text(postal, _q(CONTACT, "name")),
        email=_text(data, _q(CONTACT, "email")),
    )


def read_host_check(resp: Response) -> dict[str, bool]:
    out: dict[str, bool] = {}
    if resp.res_data is None:
        return out
    for name in resp.res_data.iter(_q(HOST, "name")):
        out[(name.text or "").strip()] = name.get("avail") in ("1", "true")
    return out
