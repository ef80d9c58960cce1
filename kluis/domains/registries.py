"""Which registry registers which TLD, how to reach it, and what it demands.

Each registry is a declared recipient in the privacy policy (its `recipient` key), so
the statement names it with its location, and nothing is sent to one the policy does
not declare. The rules below are what kluis checks before it sends anything; they are
written from the registries' published policies as far as we know them, and are
marked in the README where they still need checking against the registry's own
current terms.
"""

from __future__ import annotations

import functools
import re
import secrets
import ssl
import string
import unicodedata
import urllib.parse
from dataclasses import dataclass

from django.conf import settings

from kluis.countries import EU_EEA
from kluis.domains.epp.client import Endpoint, EppClient, EppError, connect_and_login
from kluis.domains.epp.pool import SessionPool
from kluis.domains.epp.xml import CONTACT, DOMAIN, HOST, RGP, SIDN

# The EU and EEA states, for registries that register only residents of them (.eu).
_BASE_FIELDS = frozenset({"name", "street", "city", "postcode", "country", "email", "voice"})


class UnknownTld(Exception):
    pass


# Registry.restore_method
RESTORE_RGP = "rgp"
RESTORE_SIDN = "sidn_cancel_delete"


@dataclass(frozen=True)
class Registry:
    key: str
    name: str
    # The recipient in kluis/policy/data/privacy-policy.yaml.
    recipient: str
    # "EU" or "non-EU": a non-EU registry gets data only with the order's consent.
    location: str
    tlds: tuple[str, ...]
    extensions: tuple[str, ...]
    required_contact_fields: frozenset[str]
    # The registry wants a legal form (and for a company its registration number).
    legal_form: bool
    # One contact handle may be the registrant of several domains.
    contact_reusable: bool
    auth_code: re.Pattern[str]
    min_years: int
    max_years: int
    # Sessions the registry lets one registrar hold open at once.
    max_sessions: int
    # Domain create names an admin and a tech contact (ours) beside the registrant.
    admin_tech: bool
    registrant_countries: frozenset[str] | None = None
    # Years a transfer adds to the domain's term at this registry (sent as the
    # transfer's <domain:period>), or None where a transfer extends nothing and the
    # registry takes no period (SIDN, EURid, DNS Belgium, DENIC).
    transfer_years: int | None = None
    # Our handles differ per registry (KLS- at SIDN, KLV- at Verisign), so they never
    # meet, whatever a registry's namespace.
    handle_prefix: str = "KL-"
    # RFC 3915 `rgp`: the registry tells a deleted domain's grace period in <info> and
    # takes <rgp:restore>. ◐ Verisign (.com, .net) and PIR (.org) implement RFC 3915 with
    # a 30-day redemption period as ICANN's gTLD rules ask; EURid (.eu) is taken to offer
    # it too (its quarantine of a deleted name, 40 days) but whether it takes the RFC 3915
    # command is not checked against its documentation.
    rgp: bool = False
    # How a domain kluis deleted is taken back at this registry while it still holds it
    # (kluis/domains/restore.py): RESTORE_RGP (RFC 3915 restore request, and the report
    # where the registry asks one), RESTORE_SIDN (SIDN's own `domainCancelDelete` of the
    # `sidn-ext-epp` extension, which takes a .nl name out of its quarantine), or "" (not
    # restorable here: a late payment is refunded). `redemption_days`: how long after the
    # delete that works (the redemption period, or SIDN's quarantine).
    # - SIDN: "the name is placed in quarantine for 40 days", during which only the last
    #   registrant can get it back, through a registrar, which SIDN charges a fee
    #   (sidn.nl, "Redeeming a quarantined domain name" and "Undoing the cancellation of
    #   a domain name", read 2026-12-06; LEGAL.md cites kb.hostcontrol.com for the 40
    #   days). ◐ The command's answer codes and the expiry after it are not in those
    #   pages (the local registry's rules: kluis/domains/epp_local.py).
    # - DNS Belgium (.be): its documentation (docs.dnsbelgium.be, "Delete, quarantine and
    #   reactivate") describes a 40-day quarantine and a "reactivate" by the registrar,
    #   but its EPP extension schema is not vendored here: not used (◐).
    # - DENIC (.de): a 30-day Redemption Grace Period with a RESTORE by the last
    #   registrar (denic.de, "Redemption Grace Period for .de Domains"); its EPP command
    #   is not documented in what was found: not used (◐).
    restore_method: str = ""
    redemption_days: int = 30
    # The registry renews a domain by itself at its expiry, for another year billed to
    # the registrar, unless the registrar deleted (cancelled) it before; it takes no
    # <domain:renew>. kluis then sends no renew for a paid term: it reads the new expiry
    # with <info> once the old one has passed (kluis/domains/renewals.py), and deletes
    # an unpaid domain `delete_before_expiry_days` days before its expiry rather than on
    # the day (kluis/domains/expiry.py). Sources, read 2026-12-06 (◐ none is the
    # registry's own current documentation):
    # - SIDN (.nl): CentralNic Reseller's knowledge base (kb.centralnicreseller.com,
    #   domains/tlds/nl) and the RRPproxy wiki: ".nl domains cannot be renewed
    #   explicitly"; Net::DRI's SIDN driver lists domain_renew as unavailable. Deletion
    #   deadline: RRPproxy "2 days prior to expiration", Enom's auto-renew-only list 3
    #   days, another platform 1 day; 2 taken. ◐ The code SIDN answers a <renew> with is
    #   not confirmed (the local registry answers 2101, Unimplemented command).
    # - DNS Belgium (.be): its own registrant page ("if the renewal date is exceeded,
    #   your registrar will be invoiced automatically for a new period") and Net::DRI's
    #   .be driver (domain_renew unavailable). ◐ Deadline: Enom's list, 3 days.
    # - DENIC (.de): Enom's auto-renew-only list only (delete by 1 day before expiry). ◐
    #   Not in DENIC's own documentation as read here.
    # EURid (.eu) and the gTLD registries take <domain:renew>: not set.
    renews_itself: bool = False
    delete_before_expiry_days: int = 0
    # A renewal paid after kluis deleted the domain for non-payment restores it while
    # the registry still holds it (kluis/domains/restore.py), when `restore` (and a
    # `restore_method`). `restore_fee_cents` (net, excl. VAT) is charged to the
    # customer as a line of the restored term's invoice; 0 charges nothing (kluis bears
    # the registry's fee). ◐ A fee belongs in the price list before it is set here.
    restore: bool = True
    restore_fee_cents: int = 0

    @property
    def restorable_days(self) -> int:
        """How many days after kluis deleted a domain here a late payment restores it
        (kluis/domains/restore.py); 0 where a late payment is refunded."""
        if self.restore and self.restore_method in (RESTORE_RGP, RESTORE_SIDN):
            return self.redemption_days
        return 0

    @property
    def outside_eu(self) -> bool:
        return self.location == "non-EU"

    def period_allowed(self, years: int) -> bool:
        return self.min_years <= years <= self.max_years


REGISTRIES: dict[str, Registry] = {
    r.key: r
    for r in (
        Registry(
            key="sidn",
            handle_prefix="KLS-",
            name="SIDN",
            recipient="sidn",
            location="EU",
            tlds=("nl",),
            extensions=(SIDN,),
            required_contact_fields=_BASE_FIELDS,
            legal_form=True,
            contact_reusable=True,
            auth_code=re.compile(r"^[A-Za-z0-9]{6,16}$"),
            min_years=1,
            max_years=1,
            max_sessions=4,
            admin_tech=True,
            renews_itself=True,
            delete_before_expiry_days=2,
            restore_method=RESTORE_SIDN,
            # SIDN's quarantine (sidn.nl; LEGAL.md: kb.hostcontrol.com).
            redemption_days=40,
        ),
        Registry(
            key="eurid",
            handle_prefix="KLE-",
            name="EURid",
            recipient="eurid",
            location="EU",
            tlds=("eu",),
            extensions=(RGP,),
            rgp=True,
            restore_method=RESTORE_RGP,
            redemption_days=40,
            required_contact_fields=_BASE_FIELDS - {"voice"},
            legal_form=False,
            contact_reusable=True,
            auth_code=re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$"),
            min_years=1,
            max_years=10,
            max_sessions=4,
            admin_tech=False,
            registrant_countries=EU_EEA,
        ),
        Registry(
            key="dnsbelgium",
            handle_prefix="KLB-",
            name="DNS Belgium",
            recipient="dns_belgium",
            location="EU",
            tlds=("be",),
            extensions=(),
            required_contact_fields=_BASE_FIELDS,
            legal_form=False,
            contact_reusable=True,
            auth_code=re.compile(r"^[A-Za-z0-9]{6,32}$"),
            min_years=1,
            max_years=1,
            max_sessions=4,
            admin_tech=False,
            renews_itself=True,
            delete_before_expiry_days=3,
        ),
        Registry(
            key="denic",
            handle_prefix="KLD-",
            name="DENIC",
            recipient="denic",
            location="EU",
            tlds=("de",),
            extensions=(),
            required_contact_fields=_BASE_FIELDS - {"voice"},
            legal_form=False,
            contact_reusable=True,
            auth_code=re.compile(r"^[\x21-\x7e]{8,32}$"),
            min_years=1,
            max_years=1,
            max_sessions=4,
            admin_tech=False,
            renews_itself=True,
            delete_before_expiry_days=1,
        ),
        Registry(
            key="verisign",
            handle_prefix="KLV-",
            name="Verisign",
            recipient="verisign",
            location="non-EU",
            tlds=("com", "net"),
            extensions=(RGP,),
            rgp=True,
            restore_method=RESTORE_RGP,
            required_contact_fields=_BASE_FIELDS,
            legal_form=False,
            contact_reusable=True,
            auth_code=re.compile(r"^[\x21-\x7e]{6,32}$"),
            min_years=1,
            max_years=10,
            max_sessions=4,
            admin_tech=True,
            transfer_years=1,
        ),
        Registry(
            key="pir",
            handle_prefix="KLP-",
            name="Public Interest Registry",
            recipient="pir",
            location="non-EU",
            tlds=("org",),
            extensions=(RGP,),
            rgp=True,
            restore_method=RESTORE_RGP,
            required_contact_fields=_BASE_FIELDS,
            legal_form=False,
            contact_reusable=True,
            auth_code=re.compile(r"^[\x21-\x7e]{8,32}$"),
            min_years=1,
            max_years=10,
            max_sessions=4,
            admin_tech=True,
            transfer_years=1,
        ),
    )
}
BY_TLD: dict[str, Registry] = {tld: reg for reg in REGISTRIES.values() for tld in reg.tlds}

# --- SIDN's legal forms (sidn-ext-epp `legalForm`) ------------------------------------
#
# The vendored schema types `legalForm` as a plain string; the values are SIDN's list as
# registrar modules send it (SIDN's registrar documentation for the .nl EPP extension).
SIDN_LEGAL_FORMS = frozenset(
    {
        "ANDERS",  # other
        "BGG",  # buitenlandse EG-vennootschap
        "BRO",  # buitenlandse rechtsvorm, onderneming of nevenvestiging
        "BV",
        "BVI/O",  # bv in oprichting
        "COOP",
        "CV",
        "EENMANSZAAK",
        "EESV",  # Europees economisch samenwerkingsverband
        "KERK",
        "MAATSCHAP",
        "NV",
        "OWM",  # onderlinge waarborgmaatschappij
        "PERSOON",
        "REDR",  # rederij
        "STICHTING",
        "VERENIGING",
        "VOF",
    }
)

# kluis keeps no legal form of its own: it reads it from the company's legal name, which
# for most forms must say it (Burgerlijk Wetboek: "B.V." at the start or end, art. 2:177;
# "N.V." likewise, art. 2:66; "stichting" art. 2:286; "coöperatief"/"U.A." art. 2:63) and
# by custom does for VOF and CV. A designation marked "end" counts only as the last
# words of the name (a name may start with "CV" for other reasons); the rest count
# anywhere. Most specific first.
_DESIGNATIONS: tuple[tuple[str, str, str], ...] = (
    ("bv io", "BVI/O", "end"),
    ("bv in oprichting", "BVI/O", "end"),
    ("bv", "BV", "end"),
    ("nv", "NV", "end"),
    ("vof", "VOF", "end"),
    ("cv", "CV", "end"),
    ("ua", "COOP", "end"),
    ("wa", "COOP", "end"),
    ("ba", "COOP", "end"),
    ("owm", "OWM", "end"),
    ("eesv", "EESV", "end"),
    ("besloten vennootschap", "BV", "any"),
    ("naamloze vennootschap", "NV", "any"),
    ("vennootschap onder firma", "VOF", "any"),
    ("commanditaire vennootschap", "CV", "any"),
    ("onderlinge waarborgmaatschappij", "OWM", "any"),
    ("stichting", "STICHTING", "any"),
    ("cooperatie", "COOP", "any"),
    ("cooperatief", "COOP", "any"),
    ("vereniging", "VERENIGING", "any"),
    ("maatschap", "MAATSCHAP", "any"),
    ("kerkgenootschap", "KERK", "any"),
    ("rederij", "REDR", "any"),
    ("eenmanszaak", "EENMANSZAAK", "any"),
)


def _words(name: str) -> list[str]:
    """ "Coöperatie De Eendracht U.A." -> ["cooperatie", "de", "eendracht", "ua"]."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c)).replace(".", "")
    return re.findall(r"[a-z0-9]+", plain)


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1))


# The legal form a business customer chose in the account (accounts.LegalForm) -> SIDN's.
SIDN_BY_CHOICE = {
    "eenmanszaak": "EENMANSZAAK",
    "vof": "VOF",
    "cv": "CV",
    "maatschap": "MAATSCHAP",
    "bv": "BV",
    "nv": "NV",
    "stichting": "STICHTING",
    "vereniging": "VERENIGING",
    "cooperatie": "COOP",
    "owm": "OWM",
    "kerk": "KERK",
    "buitenlands": "BRO",
    "anders": "ANDERS",
}


def sidn_legal_form(*, company: str, country: str, chosen: str = "") -> str:
    """SIDN's legal form for a registrant: PERSOON for a person; for a company the form
    its customer chose in the account (`chosen`), else for a Dutch company the form its
    legal name states, ANDERS only when the name does not say it either; BRO (a foreign
    legal form) for a company established outside the Netherlands."""
    if not company.strip():
        return "PERSOON"
    if country.upper() != "NL":
        return "BRO"
    if chosen in SIDN_BY_CHOICE:
        return SIDN_BY_CHOICE[chosen]
    words = _words(company)
    if len(words) > 1 and words[0] in ("bv", "nv"):  # "B.V. Visser" (art. 2:177, 2:66)
        return words[0].upper()
    for designation, form, where in _DESIGNATIONS:
        phrase = tuple(designation.split())
        if where == "end":
            if len(words) > len(phrase) and tuple(words[-len(phrase) :]) == phrase:
                return form
        elif _contains(words, phrase):
            return form
    return "ANDERS"


def _drawn(alphabet: str, length: int) -> str:
    """`length` characters drawn uniformly from `alphabet` (under 256 of them) with the
    operating system's randomness: one read for the lot, a byte at or above the largest
    multiple of the alphabet's size drawn again, so no character is favoured."""
    size = len(alphabet)
    limit = 256 - 256 % size
    drawn: list[str] = []
    while len(drawn) < length:
        drawn += [alphabet[b % size] for b in secrets.token_bytes(length) if b < limit]
    return "".join(drawn[:length])


def auth_code_new(registry: Registry) -> str:
    """A fresh auth code in the format `registry` demands (its `auth_code` rule)."""
    alnum = string.ascii_letters + string.digits
    upper = string.ascii_uppercase + string.digits

    def plain() -> str:
        return _drawn(alnum, 16)

    def grouped() -> str:
        return "-".join(_drawn(upper, 4) for _ in range(4))

    # Tried in turn; the second is drawn only where the first shape does not fit.
    for shape in (plain, grouped):
        code = shape()
        if registry.auth_code.fullmatch(code):
            return code
    raise ValueError(f"no auth-code shape fits {registry.name}'s format")


def registry_for(domain: str) -> Registry:
    tld = domain.rstrip(".").rsplit(".", 1)[-1].lower()
    try:
        return BY_TLD[tld]
    except KeyError:
        raise UnknownTld(tld) from None


def ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.KLUIS_EPP_CAFILE or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.KLUIS_EPP_CERTFILE:
        context.load_cert_chain(settings.KLUIS_EPP_CERTFILE, settings.KLUIS_EPP_KEYFILE or None)
    return context


class NotConfigured(EppError):
    """No endpoint for this registry: its registrations wait."""


def endpoint(registry: Registry, *, context: ssl.SSLContext | None = None) -> Endpoint:
    url = settings.KLUIS_EPP_ENDPOINTS.get(registry.key, "")
    if not url:
        raise NotConfigured(f"KLUIS_EPP_{registry.key.upper()}_URL is not set")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "epp" or not parts.hostname or not parts.username or not parts.password:
        raise NotConfigured(
            f"KLUIS_EPP_{registry.key.upper()}_URL must be epp://CLIENT-ID:PASSWORD@host:port"
        )
    return Endpoint(
        host=parts.hostname,
        port=parts.port or 700,
        client_id=urllib.parse.unquote(parts.username),
        password=urllib.parse.unquote(parts.password),
        ssl_context=context or ssl_context(),
        timeout=float(settings.KLUIS_EPP_TIMEOUT),
        max_frame=settings.KLUIS_EPP_MAX_FRAME,
        objects=(DOMAIN, CONTACT, HOST),
        extensions=registry.extensions,
    )


@functools.cache
def pool(key: str) -> SessionPool:
    """The process's session pool for one registry."""
    registry = REGISTRIES[key]
    ep = endpoint(registry)

    def open_session() -> EppClient:
        return connect_and_login(ep)

    return SessionPool(open_session, max_sessions=registry.max_sessions)
