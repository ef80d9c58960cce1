"""The parts of a person's copy (art. 15 GDPR) beyond their sealed values.

Shared by the access export (JSON and PDF) and "Mijn gegevens", so the two say the
same: the person's rows in the other apps (kluis.rights.records), the recipients by
their own names, transfers outside the EU with their safeguards (15(2)), whether
automated decisions are made (15(1)(h)), and what the policy says we hold outside
kluis, with where and for how long. Everything is readable text in the active
language: no category, purpose or retention keys, no status codes.

Recipients by name: CJEU 12-1-2023, C-154/21 (Österreichische Post),
ECLI:EU:C:2023:3 — art. 15(1)(c) gives the person the actual identity of the
recipients; only categories where they cannot be identified, or where the request
is manifestly unfounded or excessive (art. 12(5)). A legal order names the authority
that gave it; a registry is the one of the extension; a processor is named as the
policy names it (`recipients.<key>.name`, or the sub-processor's legal name).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _

from kluis.audit.models import Disclosure
from kluis.audit.withholding import visible_to_subject
from kluis.policy.loader import current_policy
from kluis.policy.render import country_name
from kluis.policy.schema import Held, Location, Policy, Recipient, RecipientRole
from kluis.rights.records import Found, NamedRecipient, records_of


@dataclass(frozen=True)
class ShownRecipient:
    name: str
    role: str
    country: str
    why: str
    outside_eu: bool
    safeguards: str = ""


@dataclass(frozen=True)
class HeldOutside:
    label: str
    description: str
    where: str
    how_long: str


@dataclass
class CopyParts:
    found: Found
    recipients: list[ShownRecipient] = field(default_factory=list)
    transfers: list[ShownRecipient] = field(default_factory=list)
    automated_decisions: str = ""
    held_outside: list[HeldOutside] = field(default_factory=list)


def _language() -> str:
    return translation.get_language() or "nl"


def recipient_name(declared: Recipient | None, fallback: str) -> str:
    """The recipient's own name from the policy, else its sub-processor's legal name."""
    if declared is None:
        return fallback
    if declared.name:
        return declared.name
    if declared.subprocessor is not None:
        return declared.subprocessor.legal_name
    return declared.label.get(_language())


def _role(declared: Recipient | None) -> str:
    if declared is None:
        return ""
    if declared.role is RecipientRole.PROCESSOR:
        return _("verwerker: werkt in onze opdracht")
    return _("zelf verantwoordelijk voor wat hij met je gegevens doet")


def _disclosed_name(policy: Policy, d: Disclosure) -> str:
    declared = policy.recipients.get(d.recipient)
    if d.recipient == "police_justice":
        from kluis.rights.models import PoliceRequest

        order = PoliceRequest.objects.filter(disclosure_seq=d.audit_seq).first()
        if order is not None and order.authority:
            return order.authority
    return recipient_name(declared, d.recipient)


def disclosure_recipient(policy: Policy, d: Disclosure) -> str:
    """A ledger entry's recipient by name, as the copy shows it."""
    return _disclosed_name(policy, d)


def named_recipients(
    policy: Policy, disclosures: list[Disclosure], implied: list[NamedRecipient]
) -> list[ShownRecipient]:
    language = _language()
    shown: list[ShownRecipient] = []
    for d in disclosures:
        declared = policy.recipients.get(d.recipient)
        purpose = policy.purposes.get(d.purpose)
        item = ShownRecipient(
            name=_disclosed_name(policy, d),
            role=_role(declared),
            country=country_name(declared.country) if declared else "",
            why=purpose.label.get(language) if purpose else "",
            outside_eu=declared is not None and declared.location is Location.NON_EU,
            safeguards=declared.safeguards.get(language)
            if declared is not None and declared.safeguards
            else "",
        )
        if item not in shown:
            shown.append(item)
    for named in implied:
        declared = policy.recipients.get(named.recipient)
        outside = (
            named.outside_eu
            if named.outside_eu is not None
            else declared is not None and declared.location is Location.NON_EU
        )
        item = ShownRecipient(
            name=named.name,
            role=_role(declared),
            country=country_name(named.country) if named.country else "",
            why=named.reason,
            outside_eu=outside,
            safeguards=declared.safeguards.get(language)
            if outside and declared is not None and declared.safeguards
            else "",
        )
        if item not in shown:
            shown.append(item)
    return shown


def held_outside(policy: Policy) -> list[HeldOutside]:
    """The categories the policy says are held outside kluis, with where and how long."""
    from kluis.accounts.selectors import retention_rule_text

    language = _language()
    return [
        HeldOutside(
            label=c.label.get(language),
            description=c.description.get(language),
            where=c.held_where.get(language) if c.held_where else "",
            how_long=retention_rule_text(policy.retention[c.retention]),
        )
        for c in policy.categories.values()
        if c.held is Held.OUTSIDE and ("customer" in c.subjects or "contact_person" in c.subjects)
    ]


def copy_parts(subject: uuid.UUID) -> CopyParts:
    """Everything but the sealed values, in the active language."""
    policy = current_policy()
    found = records_of(subject)
    disclosures = list(
        visible_to_subject(Disclosure.objects.filter(subject=subject), subject).order_by("at")
    )
    recipients = named_recipients(policy, disclosures, found.recipients)
    automated = policy.automated_decisions
    return CopyParts(
        found=found,
        recipients=recipients,
        transfers=[r for r in recipients if r.outside_eu],
        automated_decisions=automated.text.get(_language()) if automated else "",
        held_outside=held_outside(policy),
    )
