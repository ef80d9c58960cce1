"""Reads of the accounts app, each scoped to the person it serves.

"My data" is built from `kluis.vault.holdings.sealed_holdings`, which finds what the
vault actually holds for a person across every app.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer, RoleGrant, User
from kluis.audit.models import Disclosure, RevealRecord
from kluis.audit.usage import purposes_shown, purposes_used
from kluis.audit.withholding import visible_to_subject
from kluis.formats import long_date
from kluis.policy.cases import Case, case_describe, open_cases
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.schema import LegalBasis, Policy, RetentionClass, Trigger
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import (
    SealedField,
    SealedFileField,
    SealedModel,
    SealedValue,
    authorize,
    period_in,
    sealed_fields,
)
from kluis.vault.holdings import Holding, sealed_holdings

# The right of access is what a person exercises when they look at their own data.
ACCESS_PURPOSE = "data_subject_rights"
# Roles that handle agreements, and so may come near customer data at all (R33).
CUSTOMER_ROLES = frozenset({"orders", "finance", "support", "privacy_officer"})


# --- "my data" ----------------------------------------------------------------------


@dataclass(frozen=True)
class ShownValue:
    where: str
    label: str
    value: str | None  # None: the key is shredded, the value is gone


@dataclass(frozen=True)
class ShownPurpose:
    label: str
    legal_basis: str
    detail: str


@dataclass
class ShownCategory:
    key: str
    label: str
    description: str
    values: list[ShownValue] = field(default_factory=list)
    purposes: list[ShownPurpose] = field(default_factory=list)
    retention: str = ""
    retention_basis: str = ""


@dataclass(frozen=True)
class ShownEvent:
    at: dt.datetime
    who: str
    purpose: str
    categories: list[str]
    legal_basis: str = ""
    # For a staff look: the case it served ("bestelling W2026-000012"), if any.
    case: str = ""


@dataclass(frozen=True)
class MyData:
    categories: list[ShownCategory]
    disclosures: list[ShownEvent]
    reveals: list[ShownEvent]
    # The rest of the copy (kluis.rights.copy): orders, invoices, payments, reminders,
    # recipients by name, transfers, automated decisions, what is held outside kluis.
    parts: Any = None


def legal_basis_label(basis: LegalBasis) -> str:
    labels = {
        LegalBasis.CONSENT: _("toestemming"),
        LegalBasis.CONTRACT: _("uitvoering van de overeenkomst"),
        LegalBasis.LEGAL_OBLIGATION: _("wettelijke plicht"),
        LegalBasis.VITAL_INTERESTS: _("vitaal belang"),
        LegalBasis.PUBLIC_TASK: _("taak van algemeen belang"),
        LegalBasis.LEGITIMATE_INTEREST: _("gerechtvaardigd belang"),
    }
    return labels[basis]


def _trigger_label(trigger: Trigger) -> str:
    labels = {
        Trigger.COLLECTED: _("na het moment dat we het kregen"),
        Trigger.CONTRACT_END: _("na het einde van je laatste overeenkomst"),
        Trigger.FISCAL_YEAR_END: _("na het einde van het boekjaar"),
        Trigger.REQUEST_CLOSED: _("na het afhandelen van je verzoek"),
        Trigger.VERIFICATION_DECIDED: _("na de controle van je identiteit"),
        Trigger.ACCOUNT_CLOSED: _("na het opheffen van je account"),
    }
    return labels[trigger]


def retention_rule_text(retention: RetentionClass) -> str:
    """The rule in words, for a row whose date cannot be known yet."""
    language = translation.get_language() or "nl"
    duration = retention.duration.describe(language)
    if retention.trigger is Trigger.CONTRACT_END:
        return _("zolang je klant bent, en daarna nog %(duration)s") % {"duration": duration}
    return f"{duration} {_trigger_label(retention.trigger)}"


def retention_text(policy: Policy, subject: uuid.UUID, scopes: list[tuple[str, str]]) -> str:
    """ "Tot <datum>" per key scope of a category (one per fiscal year), or the rule in
    words where the date is not known yet; the dates come from the same function the
    access export and the retention sweep use.
    """
    from kluis.rights.retention import kept_until

    parts: list[str] = []
    for cls, period in scopes:
        until = kept_until(policy, subject, cls, period)
        if until is None:
            text = retention_rule_text(policy.retention[cls])
        else:
            text = _("tot %(date)s") % {"date": long_date(until)}
        if period:
            text = _("%(text)s (boekjaar %(year)s)") % {"text": text, "year": period}
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)


def _access_purpose(policy: Policy, category: str) -> str | None:
    candidates = [
        key
        for key, purpose in policy.purposes.items()
        if "subject" in purpose.actors and category in purpose.categories
    ]
    if ACCESS_PURPOSE in candidates:
        return ACCESS_PURPOSE
    return candidates[0] if candidates else None


def _category_labels(policy: Policy, keys: list[str], language: str) -> list[str]:
    return [policy.categories[k].label.get(language) if k in policy.categories else k for k in keys]


def _purpose_label(policy: Policy, key: str, language: str) -> str:
    return policy.purposes[key].label.get(language) if key in policy.purposes else key


def _add_hashed_password(
    shown: dict[str, ShownCategory], customer: Customer, policy: Policy, language: str
) -> None:
    """The password is held too, as a one-way hash: say so, without a value to show."""
    key = "user.authorization.password"
    if key not in policy.categories or not any(
        u.has_usable_password() for u in customer.users.all()
    ):
        return
    declared = policy.categories[key]
    retention = policy.retention[declared.retention]
    shown[key] = ShownCategory(
        key=key,
        label=declared.label.get(language),
        description=declared.description.get(language),
        values=[
            ShownValue(
                where=str(User._meta.verbose_name),
                label=_("wachtwoord"),
                value=_("alleen als Argon2id-hash: niemand kan het lezen, ook wij niet"),
            )
        ],
        purposes=[
            ShownPurpose(
                label=p.label.get(language),
                legal_basis=legal_basis_label(p.legal_basis),
                detail=p.legal_basis_detail.get(language),
            )
            for p in policy.purposes.values()
            if key in p.categories
        ],
        retention=retention_text(policy, customer.id, [(declared.retention, "")]),
        retention_basis=retention.basis.get(language),
    )


def _file_words(holding: Holding) -> str:
    from django.template.defaultfilters import filesizeformat

    from kluis import uploads

    field = holding.field
    assert isinstance(field, SealedFileField)
    kind = uploads.extension(field.mimetype_of(holding.row)).upper()
    size = getattr(holding.row, "size", None)
    if size is None:
        return _("bestand (%(kind)s), in de kopie van je gegevens") % {"kind": kind}
    return _("bestand (%(kind)s, %(size)s), in de kopie van je gegevens") % {
        "kind": kind,
        "size": filesizeformat(size),
    }


def my_data(customer: Customer) -> MyData:
    """What kluis holds about this customer, why, until when, and who saw or got it."""
    from kluis.rights.copy import copy_parts, disclosure_recipient

    policy = current_policy()
    language = translation.get_language() or "nl"
    me = Actor.subject(customer.id)
    used = purposes_used(customer.id)
    parts = copy_parts(customer.id)
    # A sealed value of one of the person's rows says which row: "factuur F2026-000012".
    row_names = {
        (type(r.row), r.row.pk): f"{r.kind} {r.reference}".strip()
        for r in parts.found.records
        if r.row is not None
    }
    shown: dict[str, ShownCategory] = {}
    # Every key scope a category is held in: its date line covers each one.
    scopes: dict[str, list[tuple[str, str]]] = {}
    for holding in sealed_holdings(customer.id):
        key = holding.field.category
        if key not in shown:
            declared = policy.categories[key]
            retention = policy.retention[holding.field.retention_class()]
            shown[key] = ShownCategory(
                key=key,
                label=declared.label.get(language),
                description=declared.description.get(language),
                purposes=[
                    ShownPurpose(
                        label=p.label.get(language),
                        legal_basis=legal_basis_label(p.legal_basis),
                        detail=p.legal_basis_detail.get(language),
                    )
                    for p in (policy.purposes[k] for k in purposes_shown(customer.id, key, used))
                ],
                retention_basis=retention.basis.get(language),
            )
        cls = holding.field.retention_class()
        period = period_in(holding.row, cls, policy)
        if (cls, period) not in scopes.setdefault(key, []):
            scopes[key].append((cls, period))
            basis = policy.retention[cls].basis.get(language)
            if basis not in shown[key].retention_basis:
                shown[key].retention_basis = " ".join(
                    b for b in (shown[key].retention_basis, basis) if b
                )
        purpose = _access_purpose(policy, key)
        value: str | None = None
        if isinstance(holding.field, SealedFileField):
            # A file is not shown as text: what it is; the copy holds the file itself.
            value = _file_words(holding)
        elif purpose is not None:
            try:
                value = holding.value.reveal(purpose=purpose, actor=me)
            except KeyShredded:
                value = None
        shown[key].values.append(
            ShownValue(
                where=row_names.get((type(holding.row), holding.row.pk))
                or str(holding.row._meta.verbose_name),
                label=str(holding.field.verbose_name),
                value=value,
            )
        )
    for key, held in scopes.items():
        held.sort(key=lambda scope: (scope[0], scope[1]))
        shown[key].retention = retention_text(policy, customer.id, held)
    _add_hashed_password(shown, customer, policy, language)
    disclosures = [
        ShownEvent(
            at=d.at,
            who=disclosure_recipient(policy, d),
            purpose=_purpose_label(policy, d.purpose, language),
            categories=_category_labels(policy, d.categories, language),
            legal_basis=legal_basis_label(LegalBasis(d.legal_basis)),
        )
        for d in visible_to_subject(
            Disclosure.objects.filter(subject=customer.id), customer.id
        ).order_by("-at")
    ]
    reveals = [
        ShownEvent(
            at=r.at,
            who=_("een medewerker"),
            purpose=_purpose_label(policy, r.purpose, language),
            categories=_category_labels(policy, r.categories, language),
            case=case_describe(r.case),
        )
        for r in visible_to_subject(
            RevealRecord.objects.filter(subject=customer.id), customer.id
        ).order_by("-at")
    ]
    return MyData(list(shown.values()), disclosures, reveals, parts)


# --- the back office ----------------------------------------------------------------


def customers_matching(text: str) -> list[Customer]:
    """Exact matches on customer number, email, name or VAT number.

    The number is not personal data and is matched as written (any case, spaces
    ignored); the rest only through the blind indexes."""
    text = text.strip()
    if not text:
        return []

    def index(model: type[SealedModel], name: str) -> str:
        f = model._meta.get_field(name)
        assert hasattr(f, "lookup_value")
        value = f.lookup_value(text)
        assert isinstance(value, str)
        return value

    number = "".join(text.split()).upper()
    query = (
        Q(number=number)
        | Q(email_index=index(Customer, "email_index"))
        | Q(name_index=index(Customer, "name_index"))
        | Q(vat_index=index(Customer, "vat_index"))
        | Q(users__email_index=index(User, "email_index"))
    )
    return list(Customer.objects.filter(query).distinct()[:50])


def customer_for_staff(customer_id: uuid.UUID) -> Customer | None:
    return Customer.objects.filter(pk=customer_id).first()


@dataclass(frozen=True)
class MaskedField:
    name: str
    label: str
    category: str
    category_label: str
    held: bool
    purposes: list[tuple[str, str]]  # (key, label) the staff member's roles allow


def staff_purposes(staff: User, category: str) -> list[tuple[str, str]]:
    """The purposes using `category` that this staff member's roles allow, as (key, label)."""
    policy = current_policy()
    language = translation.get_language() or "nl"
    allowed = {p for role in staff.role_set for p in policy.purposes_for_actor(role)}
    return [
        (key, p.label.get(language))
        for key, p in policy.purposes.items()
        if key in allowed and category in p.categories
    ]


def customer_fields_for_staff(customer: Customer, staff: User) -> list[MaskedField]:
    """The customer's sealed fields, masked, with the purposes this staff member may use."""
    policy = current_policy()
    language = translation.get_language() or "nl"
    result = []
    for f in sealed_fields(Customer):
        purposes = staff_purposes(staff, f.category)
        result.append(
            MaskedField(
                name=f.name,
                label=str(f.verbose_name),
                category=f.category,
                category_label=policy.categories[f.category].label.get(language),
                held=customer.__dict__.get(f.attname) is not None,
                purposes=purposes,
            )
        )
    return result


def customer_value_reveal(
    *, customer: Customer, field: str, purpose: str, actor: Actor, case: Case | None = None
) -> str:
    """A value in plain text, if the vault allows it; it audits and may refuse.

    An empty field is checked and audited like a filled one: a refusal is a refusal,
    and whether a field is empty is itself something the purpose must allow.
    """
    value = getattr(customer, field)
    if value is None:
        sealed = Customer._meta.get_field(field)
        assert isinstance(sealed, SealedField)
        authorize(sealed, customer, purpose=purpose, actor=actor, case=case)
        return ""
    assert isinstance(value, SealedValue)
    return value.reveal(purpose=purpose, actor=actor, case=case)


def customer_open_cases(customer: Customer) -> list[tuple[str, str]]:
    """The customer's open cases that a staff reveal may serve, as (case, label) pairs."""
    policy = current_policy()
    kinds = list(dict.fromkeys(k for p in policy.purposes.values() if p.case for k in p.case.kinds))
    return [(str(case), label) for case, label in open_cases(customer.id, kinds)]


def purposes_using(category: str) -> list[str]:
    return [k for k, p in current_policy().purposes.items() if category in p.categories]


def staff_members() -> list[User]:
    return list(User.objects.filter(kind=User.Kind.STAFF).order_by("date_joined"))


def role_grants_open() -> list[RoleGrant]:
    return list(
        RoleGrant.objects.filter(decided_at__isnull=True)
        .select_related("staff", "requested_by")
        .order_by("requested_at")
    )


def role_grant(grant_id: int) -> RoleGrant | None:
    return RoleGrant.objects.filter(pk=grant_id, decided_at__isnull=True).first()


def staff_member(user_id: uuid.UUID) -> User | None:
    return User.objects.filter(pk=user_id, kind=User.Kind.STAFF).first()


def role_labels(roles: frozenset[str]) -> list[tuple[str, str]]:
    """(key, label) of `roles`, in the policy's order."""
    language = translation.get_language() or "nl"
    return [(k, r.label.get(language)) for k, r in current_policy().roles.items() if k in roles]
