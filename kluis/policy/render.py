"""The privacy statement as a document: sections of paragraphs, lists and tables.

The web page and the PDF are both drawn from this one structure, so they cannot say
different things. Every string in it is plain text: the HTML template escapes it, and
the PDF writer escapes it for ReportLab's paragraph markup. Nothing here is marked
safe, because policy text is text, not markup.

The order follows the seed statement (seed/privacybeleid.txt): who we are, 1. which
data, 2. what for (with the webshop/website passages), 3. with whom, 4. security,
retention, 5./6. the prose sections, 7. your rights, cookies, changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, override

from kluis.formats import long_date
from kluis.policy.dataflow import FlowMap, flow_map
from kluis.policy.schema import (
    CookieKind,
    Duration,
    Held,
    LegalBasis,
    Location,
    Measure,
    Policy,
    PortalPage,
    Provision,
    Recipient,
    RecipientRole,
    RetentionClass,
    Text,
    Trigger,
)


class Labelled(Protocol):
    @property
    def label(self) -> Text: ...


# --- the document ------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    text: str
    href: str = ""
    strong: bool = False


@dataclass(frozen=True)
class Para:
    spans: tuple[Span, ...]
    key: str = ""
    kind: ClassVar[str] = "para"


@dataclass(frozen=True)
class Items:
    """A bulleted list: the seed statement speaks in dash lists."""

    items: tuple[Para, ...]
    kind: ClassVar[str] = "items"


@dataclass(frozen=True)
class Lines:
    """Lines that belong together without bullets: a postal address."""

    lines: tuple[Para, ...]
    kind: ClassVar[str] = "lines"


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[str, ...]  # a cell may hold several lines, separated by "\n"


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    widths: tuple[float, ...]  # relative column widths, for the PDF
    name: str = ""
    kind: ClassVar[str] = "table"


@dataclass(frozen=True)
class Figure:
    """The data-flow map: an SVG image on the web, a vector drawing in the PDF."""

    caption: str
    flow: FlowMap
    kind: ClassVar[str] = "figure"


Block = Para | Items | Lines | Table | Figure


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]
    level: int = 2


@dataclass(frozen=True)
class Document:
    language: str
    title: str
    controller: str
    version: str
    date: dt.date
    version_line: str
    changed_line: str
    sections: tuple[Section, ...]


def para(*parts: str | Span, key: str = "") -> Para:
    return Para(tuple(p if isinstance(p, Span) else Span(p) for p in parts if p), key=key)


def lead(label: str, *rest: str | Span, key: str = "") -> Para:
    """A paragraph that starts with a bold label ("Grondslag: ...")."""
    return para(Span(f"{label}: ", strong=True), *rest, key=key)


# Where each page a policy text may link to is: a path of kluis itself, never a host.
PORTAL_PAGES: dict[PortalPage, tuple[str, str]] = {
    PortalPage.CURRENT_IP_ADDRESS: ("sites_portal:sites", "je-ip-adres"),
}


def portal_href(page: PortalPage) -> str:
    name, anchor = PORTAL_PAGES[page]
    return f"{reverse(name)}#{anchor}" if anchor else reverse(name)


def linked(text: str, links: Iterable[tuple[str, str]]) -> list[str | Span]:
    """`text` as spans, each of `links`' words (in the order they stand) a link."""
    parts: list[str | Span] = []
    rest = text
    for words, href in sorted(links, key=lambda link: text.find(link[0])):
        before, found, after = rest.partition(words)
        if found:
            parts += [before, Span(words, href=href)]
            rest = after
    parts.append(rest)
    return parts


def safe_href(url: str) -> str:
    """Only web and mail links; a policy value never becomes a javascript: link."""
    return url if url.startswith(("https://", "http://", "mailto:", "/")) else ""


# --- words for the schema's enumerations ---------------------------------------------

DASH = "\u2013"  # the en dash of Dutch typography
LEGAL_BASIS: dict[LegalBasis, Promise] = {
    LegalBasis.CONSENT: gettext_lazy("Toestemming"),
    LegalBasis.CONTRACT: gettext_lazy("Uitvoering van de overeenkomst"),
    LegalBasis.LEGAL_OBLIGATION: gettext_lazy("Wettelijke verplichting"),
    LegalBasis.VITAL_INTERESTS: gettext_lazy("Vitaal belang"),
    LegalBasis.PUBLIC_TASK: gettext_lazy("Taak van algemeen belang"),
    LegalBasis.LEGITIMATE_INTEREST: gettext_lazy("Gerechtvaardigd belang"),
}
LEGAL_BASIS_ARTICLE: dict[LegalBasis, Promise] = {
    LegalBasis.CONSENT: gettext_lazy("art. 6 lid 1 sub a AVG"),
    LegalBasis.CONTRACT: gettext_lazy("art. 6 lid 1 sub b AVG"),
    LegalBasis.LEGAL_OBLIGATION: gettext_lazy("art. 6 lid 1 sub c AVG"),
    LegalBasis.VITAL_INTERESTS: gettext_lazy("art. 6 lid 1 sub d AVG"),
    LegalBasis.PUBLIC_TASK: gettext_lazy("art. 6 lid 1 sub e AVG"),
    LegalBasis.LEGITIMATE_INTEREST: gettext_lazy("art. 6 lid 1 sub f AVG"),
}
TRIGGER: dict[Trigger, Promise] = {
    Trigger.COLLECTED: gettext_lazy("vanaf het moment dat wij de gegevens ontvangen"),
    Trigger.CONTRACT_END: gettext_lazy("na het einde van de overeenkomst"),
    Trigger.FISCAL_YEAR_END: gettext_lazy("na het einde van het boekjaar"),
    Trigger.REQUEST_CLOSED: gettext_lazy("na de afhandeling van het verzoek"),
    Trigger.VERIFICATION_DECIDED: gettext_lazy("na de controle van je identiteit"),
    Trigger.ACCOUNT_CLOSED: gettext_lazy("na het opheffen van je account"),
    Trigger.ENDED: gettext_lazy("nadat het is verlopen of ingetrokken"),
}
ROLE: dict[RecipientRole, Promise] = {
    RecipientRole.PROCESSOR: gettext_lazy(
        "verwerker (werkt in onze opdracht, onder een verwerkersovereenkomst)"
    ),
    RecipientRole.CONTROLLER: gettext_lazy(
        "zelfstandig verwerkingsverantwoordelijke (bepaalt zelf wat er met de gegevens gebeurt)"
    ),
}
REQUIRES: dict[str, Promise] = {
    "consent": gettext_lazy(
        "We geven deze gegevens alleen door met je uitdrukkelijke toestemming."
    ),
    "legal_order": gettext_lazy(
        "We geven deze gegevens alleen door op grond van een wettelijk bevel of een vordering."
    ),
    "staff_approval": gettext_lazy(
        "We geven deze gegevens alleen door nadat een daartoe bevoegde medewerker dat heeft"
        " goedgekeurd."
    ),
}
COOKIE_KIND: dict[CookieKind, Promise] = {
    CookieKind.FUNCTIONAL: gettext_lazy("Functioneel"),
    CookieKind.STATISTICS: gettext_lazy("Statistiek"),
}
COUNTRY: dict[str, Promise] = {
    "NL": gettext_lazy("Nederland"),
    "BE": gettext_lazy("België"),
    "DE": gettext_lazy("Duitsland"),
    "FR": gettext_lazy("Frankrijk"),
    "IE": gettext_lazy("Ierland"),
    "LU": gettext_lazy("Luxemburg"),
    "US": gettext_lazy("de Verenigde Staten"),
    "GB": gettext_lazy("het Verenigd Koninkrijk"),
}


def recipient_named(recipient: Recipient) -> tuple[str, str | None] | None:
    """The recipient's own legal name and KvK number, or its sub-processor's name."""
    if recipient.name:
        return recipient.name, recipient.kvk_number
    if recipient.subprocessor is not None:
        return recipient.subprocessor.legal_name, None
    return None


def named_sentence(name: str, kvk_number: str | None) -> str:
    if kvk_number:
        return _("Dat is %(name)s (KvK-nummer %(kvk)s).") % {"name": name, "kvk": kvk_number}
    return _("Dat is %(name)s.") % {"name": name}


ROLE_SENTENCE: dict[RecipientRole, Promise] = {
    RecipientRole.PROCESSOR: gettext_lazy(
        "Deze ontvanger is onze verwerker en is gevestigd in %(where)s. Hij werkt alleen in"
        " onze opdracht, onder een verwerkersovereenkomst."
    ),
    RecipientRole.CONTROLLER: gettext_lazy(
        "Deze ontvanger is zelfstandig verwerkingsverantwoordelijke en is gevestigd in"
        " %(where)s. Hij bepaalt zelf wat er met de gegevens gebeurt."
    ),
}
PROVISION: dict[Provision, Promise] = {
    Provision.STATUTORY: gettext_lazy(
        "De wet verplicht ons deze gegevens te vragen, voor zover ze op je factuur moeten staan:"
        " %(labels)s. Zonder deze gegevens kunnen we geen overeenkomst met je sluiten, behalve"
        " waar hieronder iets anders staat."
    ),
    Provision.CONTRACT: gettext_lazy(
        "Deze gegevens hebben we nodig om de overeenkomst met je te sluiten en uit te voeren:"
        " %(labels)s. Geef je ze niet, dan kunnen we de dienst waarvoor ze nodig zijn niet"
        " leveren."
    ),
    Provision.VOLUNTARY: gettext_lazy(
        "Deze gegevens geef je alleen als je dat zelf wilt: %(labels)s. Geef je ze niet, dan"
        " heeft dat geen gevolgen voor je overeenkomst."
    ),
    Provision.AUTOMATIC: gettext_lazy(
        "Deze gegevens geef je niet zelf; ze ontstaan als je betaalt, inlogt of onze diensten"
        " gebruikt: %(labels)s."
    ),
}

# Where the prose sections of the policy stand in the statement. Any other section
# (links, hosted sites, or one added later) comes after retention and automated
# decisions, before your rights.
SECTIONS_AFTER_PURPOSES = ("webshop_website", "webshop", "website")
SECTIONS_AT_END = ("changes",)


def country_name(code: str) -> str:
    return str(COUNTRY.get(code.upper(), code))


def format_date(date: dt.date, language: str) -> str:
    """A date as a reader writes it: "4 december 2026", "4 December 2026"."""
    return long_date(date, language)


def capital(text: str) -> str:
    """Policy labels are lower case ("onze serverleverancier"); a heading starts with a capital."""
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    """After a colon a Dutch or English clause goes on in lower case ("Eigen keuze: nodig ...")."""
    if len(text) > 1 and text[1].islower():
        return text[:1].lower() + text[1:]
    return text


def joined(items: Iterable[str]) -> str:
    """ "a, b en c" in the active language."""
    words = list(items)
    if len(words) < 2:
        return "".join(words)
    return _("%(first)s en %(last)s") % {"first": ", ".join(words[:-1]), "last": words[-1]}


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def language_of(code: str | None) -> str:
    return "en" if (code or "").startswith("en") else "nl"


def web_url(site: str) -> str:
    """The controller's website as a link; the policy may give it without a scheme."""
    if site.startswith(("https://", "http://")):
        return site
    return f"https://{site}" if "." in site and " " not in site else ""


def legal_basis_text(basis: LegalBasis, detail: str) -> str:
    """The ground in words, with its article unless the policy's detail already cites it."""
    if "6 lid 1" in detail or "6(1)" in detail:
        return f"{LEGAL_BASIS[basis]} {DASH} {detail}"
    return f"{LEGAL_BASIS[basis]} ({LEGAL_BASIS_ARTICLE[basis]}) {DASH} {detail}"


def retention_basis(rule: RetentionClass, language: str) -> str:
    """Only a class with a statutory duty may say so; the others are our own choice."""
    with override(language):
        if rule.legal_duty:
            return _("Wettelijke bewaarplicht: %(basis)s") % {"basis": rule.basis.get(language)}
        return _("Eigen keuze: %(basis)s") % {"basis": lower_first(rule.basis.get(language))}


def retention_term(rule: RetentionClass, language: str) -> str:
    with override(language):
        return f"{rule.duration.describe(language)} {TRIGGER[rule.trigger]}"


# --- the statement -------------------------------------------------------------------


def backup_sentences(policy: Policy, language: str) -> list[str]:
    """How long backups are kept, and that a restore keeps shredded keys gone (in the
    active language); empty when the policy does not say."""
    kept = policy.security.backups
    if kept is None:
        return []
    return [
        _("Back-ups van de gegevens bewaren we ten hoogste %(duration)s.")
        % {"duration": Duration(days=kept.database_days).describe(language)},
        _(
            "Back-ups van de sleutels per persoon bewaren we apart, ten hoogste %(duration)s. "
            "Daarna zijn gewiste gegevens ook in de back-ups niet meer te lezen."
        )
        % {"duration": Duration(days=kept.keystore_days).describe(language)},
        _(
            "Zetten we een back-up van de sleutels terug, dan vernietigen we eerst opnieuw "
            "elke sleutel die sinds die back-up is vernietigd. Zo blijven gewiste gegevens "
            "gewist."
        ),
    ]


def duties_sentences(policy: Policy, language: str) -> list[str]:
    """The separation of duties in words, from the policy (in the active language)."""
    duties = policy.separation_of_duties
    if not duties.incompatible and not duties.privileged:
        return []

    def role(key: str) -> str:
        return policy.roles[key].label.get(language)

    sentences = [
        _("Niemand heeft tegelijk de rollen %(first)s en %(second)s.")
        % {"first": role(pair.roles[0]), "second": role(pair.roles[1])}
        + " "
        + " ".join(pair.reason.get(language).split())
        for pair in duties.incompatible
    ]
    sentences.append(_("Niemand wijzigt zijn eigen rollen."))
    if duties.privileged:
        sentences.append(
            _("De rollen %(roles)s krijgt iemand pas als een tweede beheerder dat goedkeurt.")
            % {"roles": ", ".join(role(k) for k in duties.privileged)}
        )
    sentences.append(_("Er blijft altijd minstens één beheerder."))
    return sentences


def build_statement(policy: Policy, language: str) -> Document:
    language = language_of(language)
    with override(language):
        return _Builder(policy, language).document()


# "art. 6 lid 1 sub b AVG" or "Art. 6(1)(b) GDPR" at the start of a purpose's ground.
_ARTICLE_6 = re.compile(r"^(art\. 6 lid 1 sub [a-f] AVG|Art\. 6\(1\)\([a-f]\) GDPR)([:,;]?)\s*")


def ground_sentence(basis: LegalBasis, detail: str) -> str:
    """The ground as one clause: "uitvoering van de overeenkomst (art. 6 lid 1 sub b AVG):
    nodig om ...", the article in brackets, the reason after it."""
    words = str(LEGAL_BASIS[basis]).lower()
    match = _ARTICLE_6.match(detail)
    if match is None:
        return sentence(f"{words} ({LEGAL_BASIS_ARTICLE[basis]}): {detail}")
    rest = detail[match.end() :]
    joiner = {":": ": ", ",": ", ", ";": "; "}.get(match.group(2), ": ")
    return sentence(f"{words} ({match.group(1)}){joiner if rest else ''}{rest}")


def english_article(article: str, language: str) -> str:
    """ "art. 7 lid 3" reads "Art. 7(3)" in English."""
    if language != "en":
        return article
    return re.sub(r"art\. (\d+) lid (\d+)", r"Art. \1(\2)", article).replace("art. ", "Art. ")


class _Builder:
    def __init__(self, policy: Policy, language: str) -> None:
        self.policy = policy
        self.lang = language

    def t(self, text: Text) -> str:
        return text.get(self.lang)

    def labels(self, group: Mapping[str, Labelled], keys: Iterable[str]) -> str:
        return joined(self.t(group[key].label) for key in keys)

    def data(self, keys: Iterable[str]) -> str:
        """The categories a purpose or recipient uses; "all ... except" when that is shorter."""
        used = list(keys)
        others = [key for key in self.policy.categories if key not in used]
        if len(used) >= 10 and len(others) <= 5:
            return _("alle gegevens uit hoofdstuk 2, behalve %(except)s") % {
                "except": self.labels(self.policy.categories, others)
            }
        return self.labels(self.policy.categories, used)

    def document(self) -> Document:
        p = self.policy
        placed = {*SECTIONS_AFTER_PURPOSES, *SECTIONS_AT_END}
        middle = [key for key in p.sections if key not in placed]
        sections = [
            self.intro(),
            self.controller(),
            self.categories(),
            *self.provision(),
            *self.purposes(),
            *self.prose(SECTIONS_AFTER_PURPOSES, level=3),
            *self.hosted_data(),
            *self.recipients(),
            self.security(),
            self.retention(),
            *self.automated(),
            *self.prose(middle),
            self.rights(),
            self.cookies(),
            *self.prose(SECTIONS_AT_END),
            self.versions(),
        ]
        return Document(
            language=self.lang,
            title=_("Privacyverklaring"),
            controller=p.controller.name,
            version=p.version,
            date=p.date,
            version_line=_("Versie %(version)s") % {"version": p.version},
            changed_line=_("Laatste wijziging: %(date)s")
            % {"date": format_date(p.date, self.lang)},
            sections=numbered(sections),
        )

    def prose(self, keys: Iterable[str], *, level: int = 2) -> list[Section]:
        sections: list[Section] = []
        for key in keys:
            section = self.policy.sections.get(key)
            if section is None:
                continue
            paragraphs = tuple(para(text) for text in self.t(section.body).split("\n\n"))
            sections.append(
                Section(
                    id=f"sectie-{key}", title=self.t(section.title), blocks=paragraphs, level=level
                )
            )
        return sections

    def intro(self) -> Section:
        # The seed opens without a heading; so does the statement.
        return Section(id="inleiding", title="", blocks=(para(self.t(self.policy.intro)),))

    def controller(self) -> Section:
        c = self.policy.controller
        name = f"{c.name} ({c.trade_name})" if c.trade_name else c.name
        lines = [
            para(Span(c.name, strong=True), f" ({c.trade_name})" if c.trade_name else ""),
            para(c.address.street),
            para(f"{c.address.postcode} {c.address.city}"),
            para(country_name(c.address.country)),
            para(_("T. "), c.phone),
            para(_("E. "), Span(c.email, href=safe_href(f"mailto:{c.email}"))),
            para(_("W. "), Span(c.website, href=web_url(c.website))),
        ]
        if c.kvk_number:
            lines.append(para(_("KvK-nummer: %(number)s") % {"number": c.kvk_number}))
        if c.vat_number:
            lines.append(para(_("Btw-nummer: %(number)s") % {"number": c.vat_number}))
        who = _(
            "%(name)s is verantwoordelijk voor wat er met je persoonsgegevens gebeurt, zoals in"
            " deze verklaring staat. Je bereikt ons hier:"
        ) % {"name": name}
        return Section(
            id="verantwoordelijke",
            title=_("Wie is verantwoordelijk voor je gegevens"),
            blocks=(para(who), Lines(tuple(lines))),
        )

    def categories(self) -> Section:
        # Grouped by where the data comes from, as the seed groups its lists
        # ("Zodra je hebt betaald, beschikken wij over je ...").
        groups: dict[str, list[Para]] = {}
        for key, category in self.policy.categories.items():
            links = [(self.t(link.text), portal_href(link.page)) for link in category.links]
            parts: list[str | Span] = [
                Span(sentence(capital(self.t(category.label))), strong=True),
                " ",
                *linked(sentence(self.t(category.description)), links),
            ]
            if category.held is Held.PLAIN:
                parts.append(
                    " "
                    + _(
                        "Deze gegevens bewaren we niet versleuteld: wie bij ons toegang heeft "
                        "tot de database, kan ze lezen."
                    )
                )
            if category.held_where:
                parts.append(f" {sentence(self.t(category.held_where))}")
            if category.aggregates:
                kept = category.aggregates
                parts.append(
                    " "
                    + _("Daarvan bewaren we alleen tellingen %(per)s.") % {"per": self.t(kept.per)}
                    + " "
                    + _("Dat zijn: %(figures)s.")
                    % {"figures": joined(self.t(f) for f in kept.figures.values())}
                )
            source = self.t(category.source).rstrip(":.")
            groups.setdefault(source, []).append(para(*parts, key=key))
        blocks: list[Block] = []
        for source, items in groups.items():
            lead_in = _("Dit krijgen we %(source)s:") % {"source": lower_first(source)}
            blocks += [para(lead_in), Items(tuple(items))]
        return Section(
            id="gegevens",
            title=_("Welke persoonsgegevens hebben wij van je nodig en slaan wij op"),
            blocks=tuple(blocks),
        )

    def provision(self) -> list[Section]:
        """Art. 13(2)(e): what you must give, why, and what happens if you do not."""
        kinds: dict[Provision, list[str]] = {}
        notes: list[Para] = []
        for key, category in self.policy.categories.items():
            if category.provision is None:
                continue
            kinds.setdefault(category.provision, []).append(self.t(category.label))
            if category.provision_note:
                notes.append(
                    para(
                        Span(sentence(capital(self.t(category.label))), strong=True),
                        f" {sentence(self.t(category.provision_note))}",
                        key=key,
                    )
                )
        if not kinds:
            return []
        blocks: list[Block] = [
            para(str(PROVISION[kind]) % {"labels": joined(kinds[kind])}, key=f"provision-{kind}")
            for kind in Provision
            if kind in kinds
        ]
        if notes:
            blocks += [
                para(_("Wat er gebeurt als je een van deze gegevens niet geeft:")),
                Items(tuple(notes)),
            ]
        return [
            Section(
                id="verplicht",
                title=_("Moet je ons je gegevens geven?"),
                blocks=tuple(blocks),
            )
        ]

    def purposes(self) -> list[Section]:
        p = self.policy
        sections = [
            Section(
                id="doelen",
                title=_("Waarvoor gebruiken wij je persoonsgegevens"),
                blocks=(
                    para(
                        _(
                            "Wij gebruiken je gegevens alleen voor de doelen hieronder, en per doel"
                            " alleen de genoemde gegevens. Commerciële doeleinden horen daar niet"
                            " bij: wij verkopen je gegevens niet."
                        )
                    ),
                ),
            )
        ]
        for key, purpose in p.purposes.items():
            detail = self.t(purpose.legal_basis_detail)
            blocks: tuple[Block, ...] = (
                para(self.t(purpose.description)),
                lead(_("Gegevens"), sentence(self.data(purpose.categories))),
                lead(_("Grondslag"), ground_sentence(purpose.legal_basis, detail)),
            )
            if purpose.case is not None:
                blocks += (
                    para(
                        _(
                            "Een medewerker ziet je gegevens voor dit doel alleen bij %(case)s."
                            " Op Mijn gegevens zie je elke keer dat iemand ze bekeek, en waarvoor."
                        )
                        % {"case": self.t(purpose.case.label)},
                    ),
                )
            sections.append(
                Section(
                    id=f"doel-{key}", title=capital(self.t(purpose.label)), blocks=blocks, level=3
                )
            )
        return sections

    def hosted_data(self) -> list[Section]:
        """Our own use of data of the sites we host: there we are controller (art. 28(10))."""
        from kluis.policy.hosted import hosted_uses

        uses = hosted_uses(self.policy, self.lang)
        if not uses:
            return []
        intro = _(
            "Voor de gegevens op de websites en webwinkels die we hosten zijn we de verwerker van"
            " onze klant. Voor het volgende gebruik van die gegevens bepalen we zelf doel en"
            " middelen, en zijn we dus zelf verwerkingsverantwoordelijke:"
        )
        items = Items(tuple(para(use.prose(), key=use.key) for use in uses))
        return [
            Section(
                id="gehoste-gegevens",
                title=_("Gegevens van de sites die we hosten, voor ons eigen gebruik"),
                blocks=(para(intro), items),
                level=3,
            )
        ]

    def recipients(self) -> list[Section]:
        p = self.policy
        sections = [
            Section(
                id="delen",
                title=_("Wanneer delen wij je gegevens en welke gegevens delen wij"),
                blocks=(
                    para(
                        _(
                            "Wij delen je gegevens alleen met de ontvangers hieronder, alleen voor"
                            " de genoemde doelen en alleen de genoemde gegevens. Elke keer dat we"
                            " gegevens doorgeven, leggen we dat vast."
                        )
                    ),
                    Figure(
                        caption=_(
                            "Deze kaart laat zien welke gegevens we voor welk doel aan welke"
                            " ontvanger geven."
                        ),
                        flow=flow_map(p, self.lang),
                    ),
                ),
            )
        ]
        for key, recipient in p.recipients.items():
            country = country_name(recipient.country)
            if recipient.location is Location.NON_EU:
                where = _("%(country)s, buiten de EU") % {"country": country}
            elif recipient.country.upper() == "NL":
                where = country
            else:
                where = _("%(country)s, binnen de EU") % {"country": country}
            receives = _("Deze ontvanger krijgt alleen de volgende gegevens: %(data)s.") % {
                "data": self.data(recipient.categories)
            }
            receives += " " + (
                ngettext(
                    "Dat is alleen voor dit doel: %(purposes)s.",
                    "Dat is alleen voor deze doelen: %(purposes)s.",
                    len(recipient.purposes),
                )
                % {"purposes": self.labels(p.purposes, recipient.purposes)}
            )
            blocks: list[Block] = [para(self.t(recipient.description))]
            named = recipient_named(recipient)
            if named and named[0] not in self.t(recipient.description):
                blocks.append(para(named_sentence(*named)))
            blocks += [
                para(str(ROLE_SENTENCE[recipient.role]) % {"where": where}),
                para(receives),
            ]
            if recipient.requires in REQUIRES:
                blocks.append(para(str(REQUIRES[recipient.requires])))
            if recipient.location is Location.NON_EU:
                blocks += self._transfer(country, recipient.safeguards)
            sections.append(
                Section(
                    id=f"ontvanger-{key}",
                    title=capital(self.t(recipient.label)),
                    blocks=tuple(blocks),
                    level=3,
                )
            )
        return sections

    def _transfer(self, country: str, safeguards: Text | None) -> list[Block]:
        text = _(
            "Je gegevens gaan dan naar %(country)s, buiten de Europese Unie, waar de AVG niet"
            " geldt."
        ) % {"country": country}
        said = self.t(safeguards) if safeguards else ""
        heading = Span(_("Doorgifte buiten de EU.") + " ", strong=True)
        blocks: list[Block] = [para(heading, f"{text} {said}".strip())]
        # The publication notice (R28) is said once: here, unless the safeguards say it.
        if "WHOIS" not in said and "RDAP" not in said:
            notice = _(
                "Bij een domeinregistratie kunnen je contactgegevens via WHOIS of RDAP openbaar"
                " worden gemaakt. Daar hebben wij geen invloed op."
            )
            blocks.append(para(notice))
        return blocks

    def security(self) -> Section:
        s = self.policy.security
        blocks: list[Block] = [para(self.t(s.intro))]
        groups: tuple[tuple[str, list[Measure]], ...] = (
            (_("Organisatorische maatregelen"), s.organisational),
            (_("Technische maatregelen"), s.technical),
            (_("Beheersmaatregelen"), s.management),
        )
        for title, measures in groups:
            if measures:
                blocks.append(para(Span(f"{title}:", strong=True)))
                blocks.append(Items(tuple(para(self.t(m.label)) for m in measures)))
        kept = backup_sentences(self.policy, self.lang)
        if kept:
            blocks.append(para(Span(f"{_('Back-ups')}:", strong=True)))
            blocks.append(Items(tuple(para(line) for line in kept)))
        duties = duties_sentences(self.policy, self.lang)
        if duties:
            blocks.append(para(Span(f"{_('Scheiding van functies')}:", strong=True)))
            blocks.append(Items(tuple(para(line) for line in duties)))
        return Section(id="beveiliging", title=_("Beveiliging"), blocks=tuple(blocks))

    def retention(self) -> Section:
        p = self.policy
        rows = []
        for key, rule in p.retention.items():
            used_by = [
                self.t(c.label)
                for c in p.categories.values()
                if key == c.retention or key in c.other_retention
            ]
            label = capital(self.t(rule.label))
            if used_by:
                label += "\n" + _("Geldt voor: %(categories)s") % {"categories": ", ".join(used_by)}
            cells = (
                label,
                rule.duration.describe(self.lang),
                str(TRIGGER[rule.trigger]),
                retention_basis(rule, self.lang),
            )
            rows.append(Row(key=key, cells=cells))
        intro = _(
            "Wij bewaren je gegevens niet langer dan nodig. Is de termijn voorbij, dan worden"
            " ze vernietigd. Alleen waar de wet ons verplicht gegevens te bewaren, staat er een"
            " wettelijke bewaarplicht; de andere termijnen kiezen wij zelf."
        )
        table = Table(
            columns=(_("Gegevens"), _("Termijn"), _("Vanaf wanneer"), _("Waarom zo lang")),
            rows=tuple(rows),
            widths=(3, 1.3, 2, 4.2),
            name="retention",
        )
        return Section(
            id="bewaartermijnen",
            title=_("Hoe lang bewaren wij je gegevens"),
            blocks=(para(intro), table),
        )

    def automated(self) -> list[Section]:
        """Art. 13(2)(f) GDPR: whether we decide about people by automated means alone."""
        declared = self.policy.automated_decisions
        if declared is None:
            return []
        return [
            Section(
                id="geautomatiseerde-besluiten",
                title=_("Geautomatiseerde besluiten"),
                blocks=(para(self.t(declared.text)),),
            )
        ]

    def rights(self) -> Section:
        c = self.policy.controller
        authority = c.supervisory_authority
        items = []
        for key, right in self.policy.rights.items():
            article = right.article if not right.article[:1].isdigit() else f"art. {right.article}"
            article = english_article(article, self.lang)
            gdpr = _("AVG")
            notice = ""
            if right.notice_days:
                notice = " " + _(
                    "Heffen we een beperking op, dan laten we je dat %(days)s dagen van "
                    "tevoren weten."
                ) % {"days": right.notice_days}
            items.append(
                para(
                    Span(capital(self.t(right.label)), strong=True),
                    f" ({article} {gdpr}). {self.t(right.description)}{notice}",
                    key=key,
                )
            )
        return Section(
            id="rechten",
            title=_("Je rechten en inzage in je gegevens"),
            blocks=(
                para(_("Je kunt altijd, zonder kosten, de volgende rechten uitoefenen:")),
                Items(tuple(items)),
                para(
                    _('Een verzoek doe je via "Mijn gegevens" in het klantportaal, of mail naar')
                    + " ",
                    Span(c.email, href=safe_href(f"mailto:{c.email}")),
                    ".",
                ),
                para(
                    _("Je vindt de") + " ",
                    Span(authority.name, href=safe_href(authority.url)),
                    " " + _("op %(url)s.") % {"url": authority.url},
                    key="complaint",
                ),
            ),
        )

    def cookies(self) -> Section:
        rows = tuple(
            Row(
                key=cookie.name,
                cells=(
                    f"{capital(self.t(cookie.label))}\n{cookie.name}",
                    str(COOKIE_KIND[cookie.kind]),
                    self.t(cookie.stores),
                    self.t(cookie.lifetime),
                    _("ja") if cookie.needs_consent else _("nee"),
                ),
            )
            for cookie in self.policy.cookies
        )
        intro = _(
            "Een cookie is een klein bestand dat onze website op je apparaat plaatst. Cookies"
            " waarvoor toestemming nodig is, plaatsen wij pas nadat je die hebt gegeven; je"
            " kunt ze ook weigeren."
        )
        table = Table(
            columns=(
                _("Cookie"),
                _("Soort"),
                _("Wat het opslaat"),
                _("Looptijd"),
                _("Toestemming nodig"),
            ),
            rows=rows,
            widths=(2.2, 1.3, 4.2, 1.5, 1.3),
            name="cookies",
        )
        change = para(
            _("Je keuze bekijk en wijzig je altijd via") + " ",
            Span(_("Cookie-instellingen"), href=reverse("web:cookies")),
            _(", onderaan elke pagina. Zo trek je je toestemming ook weer in."),
        )
        return Section(id="cookies", title=_("Cookies"), blocks=(para(intro), table, change))

    def versions(self) -> Section:
        p = self.policy
        published = _("Versie %(version)s, gepubliceerd op %(date)s.") % {
            "version": p.version,
            "date": format_date(p.date, self.lang),
        }
        return Section(
            id="versie",
            title=_("Versie van deze verklaring"),
            blocks=(
                para(published),
                lead(_("Wat is er veranderd"), self.t(p.changes)),
                para(
                    _("Eerdere versies blijven beschikbaar:") + " ",
                    Span(_("alle versies"), href=reverse("policy:versions")),
                    ".",
                ),
            ),
        )


def numbered(sections: Iterable[Section]) -> tuple[Section, ...]:
    """Every top-level section with a heading gets its number, in order."""
    out: list[Section] = []
    number = 0
    for section in sections:
        if section.level == 2 and section.title:
            number += 1
            section = replace(section, title=f"{number}. {section.title}")
        out.append(section)
    return tuple(out)
