"""The schema of the privacy policy file.

The policy file is the statement as data. Loading validates it against these models;
a mistake stops start-up with the key path and what is wrong with it. Cross-references
(a purpose naming a category, a recipient naming a purpose, ...) are checked here too,
so that the rest of kluis can trust every key it looks up.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=80)]
RequirementId = Annotated[str, StringConstraints(pattern=r"^R\d{1,2}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text in both languages of kluis: Dutch first, English second."""

    nl: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    en: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

    def get(self, language: str) -> str:
        return self.en if language.startswith("en") else self.nl


class LegalBasis(StrEnum):
    """GDPR art. 6(1) grounds."""

    CONSENT = "consent"  # (a)
    CONTRACT = "contract"  # (b)
    LEGAL_OBLIGATION = "legal_obligation"  # (c)
    VITAL_INTERESTS = "vital_interests"  # (d)
    PUBLIC_TASK = "public_task"  # (e)
    LEGITIMATE_INTEREST = "legitimate_interest"  # (f)


class Address(Strict):
    street: str
    postcode: str
    city: str
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Authority(Strict):
    name: str
    url: str


class Controller(Strict):
    name: str
    trade_name: str
    address: Address
    phone: str
    email: str
    website: str
    kvk_number: Annotated[str, StringConstraints(pattern=r"^\d{8}$")] | None = None
    vat_number: str | None = None
    supervisory_authority: Authority


class DataSubject(Strict):
    label: Text
    fides_key: str


class Held(StrEnum):
    SEALED = "sealed"  # in a sealed field of a kluis model
    HASHED = "hashed"  # only as a one-way hash (passwords)
    OUTSIDE = "outside"  # not held by kluis itself (e.g. at the server supplier)
    AGGREGATED = "aggregated"  # only as counts per day, declared in `aggregates`
    # In plain columns of kluis's own tables, not sealed: operational metadata the
    # software must read on every request (an API token's name, scopes, last use).
    # Such a category names its columns (`columns`), checked against the models.
    PLAIN = "plain"


class Provision(StrEnum):
    """Why a person gives a category, for art. 13(2)(e) GDPR."""

    STATUTORY = "statutory"  # the law makes us ask for it (the invoice's requirements)
    CONTRACT = "contract"  # needed to make or perform the agreement
    VOLUNTARY = "voluntary"  # given only if the person wants to
    AUTOMATIC = "automatic"  # not given by the person: it arises from using the service


class Aggregates(Strict):
    """What kluis keeps of a category held as counts: the unit counted and the figures.

    The tables that hold them are checked against this list by a test, so the
    statement, which is written from it, says what is actually kept.
    """

    per: Text  # "per site per dag"
    figures: dict[Key, Text] = Field(min_length=1)


class PortalPage(StrEnum):
    """A page of kluis a description may link to: the statement names the page, the
    renderer knows its address (kluis/policy/render.py PORTAL_PAGES)."""

    CURRENT_IP_ADDRESS = "current_ip_address"  # the portal's "Je huidige IP-adres"


class Link(Strict):
    """Words of a description that carry a link to the page of kluis they speak of."""

    text: Text  # exactly as they stand in the description, in each language
    page: PortalPage


class Category(Strict):
    label: Text
    description: Text
    # Sentences of the description that promise what a page shows link to that page.
    links: list[Link] = Field(default_factory=list)
    fides_key: str
    subjects: list[Key] = Field(min_length=1)
    source: Text
    retention: Key
    # Other classes a copy of this category may be sealed under, where the copy
    # serves a record with a rule of its own (the name on an invoice is fiscal).
    other_retention: list[Key] = Field(default_factory=list)
    held: Held = Held.SEALED
    held_where: Text | None = None
    aggregates: Aggregates | None = None
    # The model columns that hold a category kept plain or hashed ("api.ApiToken.name").
    columns: list[str] = Field(default_factory=list)
    # Whether giving it is a statutory or contractual requirement, and what happens when
    # it is not given (art. 13(2)(e)). Versions before 2.1 did not say.
    provision: Provision | None = None
    provision_note: Text | None = None
    requirements: list[RequirementId] = Field(default_factory=list)
    # The words of the published seed statement this category stands for.
    seed: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _links_stand_in_the_description(self) -> Category:
        for link in self.links:
            for language in ("nl", "en"):
                words, text = link.text.get(language), self.description.get(language)
                if text.count(words) != 1:
                    raise ValueError(
                        f"links: {words!r} must stand once in the {language} description"
                    )
        return self

    @model_validator(mode="after")
    def _outside_says_where(self) -> Category:
        if self.held is not Held.SEALED and self.held_where is None:
            raise ValueError("a category not held sealed must say where it is held (held_where)")
        if (self.held is Held.AGGREGATED) != (self.aggregates is not None):
            raise ValueError("a category held aggregated lists its figures (aggregates), no other")
        if self.held is Held.PLAIN and not self.columns:
            raise ValueError("a category held plain names its columns (columns)")
        return self


class PurposeCase(Strict):
    """Staff reveal for this purpose only within a case of the person (R33)."""

    # The kinds of case that count (kluis/policy/cases.py): an open order, an open
    # rights request, an approved police register entry, a hand-over to the collector.
    kinds: list[Key] = Field(min_length=1)
    # What the statement says the case is: "een openstaande bestelling of vraag van je".
    label: Text


class Purpose(Strict):
    label: Text
    description: Text
    legal_basis: LegalBasis
    legal_basis_detail: Text
    fides_use: str
    categories: list[Key] = Field(min_length=1)
    # Who may reveal personal data for this purpose: staff roles, "system" for the
    # worker and scheduled jobs, "subject" for the person the data is about.
    actors: list[Key] = Field(min_length=1)
    # When set, a staff member may reveal for this purpose only within such a case;
    # the worker and the person themself need none.
    case: PurposeCase | None = None
    requirements: list[RequirementId] = Field(default_factory=list)
    seed: list[str] = Field(default_factory=list)
    # Used for some people only, when something happens (a legal order, a hand-over to
    # the collector): a person's own copy names it only once it was used for them.
    occasional: bool = False
    # Still allowed while the person has their processing restricted (art. 18(2) GDPR):
    # storage, legal claims, legal duties, and the person's own rights.
    during_restriction: bool = False


class RecipientRole(StrEnum):
    PROCESSOR = "processor"
    CONTROLLER = "controller"


class Location(StrEnum):
    NL = "NL"
    EU = "EU"
    NON_EU = "non-EU"


class Subprocessor(Strict):
    """A recipient that also processes the data of the sites we host for our customers.

    Named in the processor agreement, with where it is and what it does (art. 28(2)
    and (4) GDPR). A change to the list of these is announced to every customer with a
    processor agreement 30 days ahead (kluis/shop/subprocessors.py).
    """

    legal_name: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    city: str
    activities: Text
    # True while `legal_name` is not yet the supplier's real name: kluis then refuses
    # to start in production (kluis/policy/apps.py), as it does without a KvK number.
    placeholder: bool = False


class Recipient(Strict):
    label: Text
    description: Text
    # The recipient's own name, as a person's copy names it (art. 15(1)(c) GDPR; CJEU
    # C-154/21: the actual recipients, not only their category). Where the rows say who
    # it was (the authority of a legal order, the registry of an extension), the copy
    # names that instead.
    name: str | None = None
    # The party's number in the Dutch trade register, shown beside its name.
    kvk_number: Annotated[str, StringConstraints(pattern=r"^\d{8}$")] | None = None
    # True while `name` is not yet the real party's legal name (no contract names it
    # yet): kluis then refuses to start in production, as for a sub-processor.
    placeholder: bool = False
    role: RecipientRole
    location: Location
    country: str
    subprocessor: Subprocessor | None = None
    purposes: list[Key] = Field(min_length=1)
    categories: list[Key] = Field(min_length=1)
    # What makes a disclosure lawful beyond the purpose: "consent" (the customer's
    # explicit consent, e.g. a non-EU registry) or "legal_order" (police/justice).
    requires: Literal["none", "consent", "legal_order", "staff_approval"] = "none"
    safeguards: Text | None = None
    requirements: list[RequirementId] = Field(default_factory=list)
    seed: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _placeholder_has_a_name(self) -> Recipient:
        if self.placeholder and not self.name:
            raise ValueError("placeholder: true needs the placeholder's `name`")
        return self


class Trigger(StrEnum):
    COLLECTED = "collected"  # counted from the moment the data entered kluis
    CONTRACT_END = "contract_end"
    FISCAL_YEAR_END = "fiscal_year_end"
    REQUEST_CLOSED = "request_closed"
    VERIFICATION_DECIDED = "verification_decided"
    ACCOUNT_CLOSED = "account_closed"
    ENDED = "ended"  # counted from the end of the thing itself (a token expired or revoked)


class Action(StrEnum):
    SHRED = "shred"  # destroy the class key; sealed values become unreadable
    DELETE = "delete"  # delete the rows


class Duration(Strict):
    years: int = Field(default=0, ge=0, le=30)
    months: int = Field(default=0, ge=0, le=360)
    days: int = Field(default=0, ge=0, le=3650)

    @model_validator(mode="after")
    def _not_empty(self) -> Duration:
        if self.years == self.months == self.days == 0:
            raise ValueError("a retention duration must be longer than zero")
        return self

    def after(self, start: dt.date) -> dt.date:
        month_index = start.month - 1 + self.months
        year = start.year + self.years + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, _days_in_month(year, month))
        return dt.date(year, month, day) + dt.timedelta(days=self.days)

    def describe(self, language: str) -> str:
        parts = []
        names = {
            "nl": (("jaar", "jaar"), ("maand", "maanden"), ("dag", "dagen")),
            "en": (("year", "years"), ("month", "months"), ("day", "days")),
        }["en" if language.startswith("en") else "nl"]
        for amount, (one, many) in zip((self.years, self.months, self.days), names, strict=True):
            if amount:
                parts.append(f"{amount} {one if amount == 1 else many}")
        joiner = " and " if language.startswith("en") else " en "
        return joiner.join(parts)


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (dt.date(year, month + 1, 1) - dt.timedelta(days=1)).day


class RetentionClass(Strict):
    label: Text
    duration: Duration
    trigger: Trigger
    # True only where a statute obliges the provider to keep the data. The statement
    # claims a legal duty for a class only when this is set, with `basis` naming it.
    legal_duty: bool
    basis: Text
    action: Action
    # Fiscal records get a key per fiscal year, so each year can be shredded on its own.
    per_fiscal_year: bool = False
    # Once the person is erased (or has restricted processing), data kept in this class
    # opens only for these purposes: those of the duty it is kept for.
    kept_for: list[Key] = Field(default_factory=list)


class AutomatedDecisions(Strict):
    """Whether decisions about people are made by automated means alone, profiling
    included (art. 22 GDPR), and what the person is told (art. 13(2)(f), 15(1)(h))."""

    used: bool
    text: Text


class CookieKind(StrEnum):
    FUNCTIONAL = "functional"
    STATISTICS = "statistics"


class Cookie(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]+$")]
    kind: CookieKind
    label: Text
    stores: Text
    lifetime: Text
    needs_consent: bool
    seed: list[str] = Field(default_factory=list)


class Right(Strict):
    label: Text
    description: Text
    article: str
    seed: list[str] = Field(default_factory=list)
    # Restriction (art. 18(3)): how many days before a restriction ends the person is told.
    notice_days: int | None = Field(default=None, ge=1, le=90)


class Art32(StrEnum):
    """The points of art. 32(1) GDPR a security measure serves."""

    ENCRYPTION = "a"  # pseudonymisation and encryption
    CONFIDENTIALITY = "b"  # confidentiality, integrity, availability and resilience
    RESTORE = "c"  # restoring availability and access in time after an incident
    TESTING = "d"  # regularly testing, assessing and evaluating the measures


class Measure(Strict):
    label: Text
    art32: list[Art32] = Field(default_factory=list)
    seed: list[str] = Field(default_factory=list)


class BackupRetention(Strict):
    """How long backups are kept: said in the statement and the register, written into
    each backup's manifest, and enforced by `manage.py restore` (kluis/vault/backup.py).

    A keystore backup holds every data key that was live when it was taken, so how long
    it is kept bounds how long an erased person's data could still be opened from the
    backups; a restored keystore backup first shreds again every key in the shred
    journal, so shredded keys stay gone.
    """

    database_days: int = Field(ge=1, le=3650)
    keystore_days: int = Field(ge=1, le=3650)


class Security(Strict):
    intro: Text
    organisational: list[Measure]
    technical: list[Measure]
    management: list[Measure]
    backups: BackupRetention | None = None


class Role(Strict):
    label: Text
    description: Text


class HostedDataUse(Strict):
    """Our own use of data of the sites we host: for it we are controller, not processor.

    Art. 28(10) GDPR: a processor that determines the purposes and means of a
    processing is a controller for it. Said in the statement and in the processor
    agreement, both generated from this entry (kluis/policy/hosted.py).
    """

    label: Text
    purpose: Key
    data: Text
    role: Literal["controller"]
    retention: Key
    # Our interest in this use, as a clause: "om ...". The purpose's own detail speaks
    # of our site (its cookie), not of the sites we host.
    interest: Text | None = None


class IncompatibleRoles(Strict):
    """Two roles one person may not hold at once, and why."""

    roles: Annotated[list[Key], Field(min_length=2, max_length=2)]
    reason: Text


class SeparationOfDuties(Strict):
    """Who may hold which staff roles, enforced by accounts.services.

    Beside the pairs and the privileged roles declared here, two rules hold always:
    nobody changes their own roles, and the last administrator cannot be removed.
    """

    incompatible: list[IncompatibleRoles] = Field(default_factory=list)
    # Granting one of these needs a second administrator's approval.
    privileged: list[Key] = Field(default_factory=list)


class Superseded(Strict):
    """A passage of the seed statement that this policy deliberately does not repeat."""

    seed: str
    reason: Text


class Section(Strict):
    """A passage of the statement that is prose, not data (links, hosted sites)."""

    title: Text
    body: Text
    seed: list[str] = Field(default_factory=list)


ROLE_KEYS = ("orders", "finance", "support", "privacy_officer", "admin")
SPECIAL_ACTORS = ("system", "subject")


class Policy(Strict):
    version: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)*$")]
    date: dt.date
    changes: Text
    controller: Controller
    intro: Text
    roles: dict[Key, Role]
    data_subjects: dict[Key, DataSubject]
    categories: dict[Key, Category]
    purposes: dict[Key, Purpose]
    recipients: dict[Key, Recipient]
    retention: dict[Key, RetentionClass]
    cookies: list[Cookie]
    rights: dict[Key, Right]
    security: Security
    automated_decisions: AutomatedDecisions | None = None
    hosted_data: dict[Key, HostedDataUse] = Field(default_factory=dict)
    sections: dict[Key, Section] = Field(default_factory=dict)
    superseded: list[Superseded] = Field(default_factory=list)
    separation_of_duties: SeparationOfDuties = Field(default_factory=SeparationOfDuties)

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        errors: list[str] = []

        def check(where: str, kind: str, keys: list[str], known: Mapping[str, object]) -> None:
            for key in keys:
                if key not in known:
                    errors.append(f"{where}: unknown {kind} {key!r}")

        for key, category in self.categories.items():
            check(
                f"categories.{key}.subjects", "data subject", category.subjects, self.data_subjects
            )
            check(
                f"categories.{key}.retention",
                "retention class",
                [category.retention, *category.other_retention],
                self.retention,
            )
        actors: dict[str, object] = {**self.roles, **dict.fromkeys(SPECIAL_ACTORS)}
        for key, purpose in self.purposes.items():
            check(f"purposes.{key}.categories", "category", purpose.categories, self.categories)
            check(f"purposes.{key}.actors", "actor", purpose.actors, actors)
        for key, rule in self.retention.items():
            check(f"retention.{key}.kept_for", "purpose", rule.kept_for, self.purposes)
        for key, recipient in self.recipients.items():
            check(f"recipients.{key}.purposes", "purpose", recipient.purposes, self.purposes)
            check(f"recipients.{key}.categories", "category", recipient.categories, self.categories)
            for used in recipient.categories:
                if used in self.categories and not any(
                    used in self.purposes[p].categories
                    for p in recipient.purposes
                    if p in self.purposes
                ):
                    errors.append(
                        f"recipients.{key}.categories: {used!r} is not used by any of "
                        "this recipient's purposes"
                    )
            if recipient.location is Location.NON_EU and recipient.requires == "none":
                errors.append(
                    f"recipients.{key}.requires: a recipient outside the EU needs consent or a "
                    "legal order"
                )
        for key, use in self.hosted_data.items():
            check(f"hosted_data.{key}.purpose", "purpose", [use.purpose], self.purposes)
            check(
                f"hosted_data.{key}.retention", "retention class", [use.retention], self.retention
            )
            hosted_purpose = self.purposes.get(use.purpose)
            if (
                hosted_purpose is not None
                and use.retention in self.retention
                and not any(
                    self.categories[c].retention == use.retention
                    for c in hosted_purpose.categories
                    if c in self.categories
                )
            ):
                errors.append(
                    f"hosted_data.{key}.retention: {use.retention!r} is not the retention of any "
                    "category of its purpose"
                )
        duties = self.separation_of_duties
        for number, pair in enumerate(duties.incompatible):
            check(f"separation_of_duties.incompatible.{number}", "role", pair.roles, self.roles)
            if len(set(pair.roles)) != 2:
                errors.append(
                    f"separation_of_duties.incompatible.{number}: a role is not incompatible "
                    "with itself"
                )
        check("separation_of_duties.privileged", "role", duties.privileged, self.roles)
        missing_roles = [role for role in ROLE_KEYS if role not in self.roles]
        if missing_roles:
            errors.append(f"roles: missing {', '.join(missing_roles)}")
        for key in self.purposes:
            if re.search(r"marketing|commercial", key):
                errors.append(f"purposes.{key}: the statement rules out commercial use")
        names = [cookie.name for cookie in self.cookies]
        for name in {n for n in names if names.count(n) > 1}:
            errors.append(f"cookies: {name!r} is declared twice")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # --- lookups the rest of kluis relies on -------------------------------------------

    def retention_for(self, category: str) -> RetentionClass:
        return self.retention[self.categories[category].retention]

    def purposes_for_actor(self, actor_role: str) -> list[str]:
        return [key for key, purpose in self.purposes.items() if actor_role in purpose.actors]

    def art32_gaps(self) -> list[Art32]:
        """The points of art. 32(1) GDPR no security measure says it serves.

        The processor agreement lists the measures under these points; it is not made
        while one has none (kluis/shop/documents.py).
        """
        measures = (
            *self.security.organisational,
            *self.security.technical,
            *self.security.management,
        )
        return [point for point in Art32 if not any(point in m.art32 for m in measures)]

    def subprocessors(self) -> list[tuple[str, Recipient, Subprocessor]]:
        return [(key, r, r.subprocessor) for key, r in self.recipients.items() if r.subprocessor]

    def seed_quotes(self) -> list[str]:
        quotes: list[str] = [item.seed for item in self.superseded]
        for group in (self.categories, self.purposes, self.recipients, self.rights, self.sections):
            for item in group.values():
                quotes.extend(item.seed)
        for cookie in self.cookies:
            quotes.extend(cookie.seed)
        for measure in (
            *self.security.organisational,
            *self.security.technical,
            *self.security.management,
        ):
            quotes.extend(measure.seed)
        return quotes
