"""The record of processing activities (GDPR art. 30(1)), generated from the policy.

One row per purpose, with the columns art. 30(1) names: (a) the controller, (b) the
purpose and its legal basis, (c) the data subjects and categories, (d) recipients,
(e) transfers outside the EU, (f) retention, (g) security measures; plus where each
category is held. The staff page and the CSV export are both drawn from `Register`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from kluis.policy.render import (
    REQUIRES,
    backup_sentences,
    country_name,
    duties_sentences,
    language_of,
    legal_basis_text,
    recipient_named,
    retention_basis,
    retention_term,
)
from kluis.policy.schema import Held, Location, Policy, Recipient, RecipientRole

HELD: dict[Held, Promise] = {
    Held.SEALED: gettext_lazy("versleuteld in kluis"),
    Held.HASHED: gettext_lazy("alleen als onomkeerbare hash in kluis"),
    Held.OUTSIDE: gettext_lazy("niet in kluis"),
    Held.AGGREGATED: gettext_lazy("alleen als tellingen per dag in kluis"),
    Held.PLAIN: gettext_lazy("niet versleuteld in kluis"),
}
ROLE_SHORT: dict[RecipientRole, Promise] = {
    RecipientRole.PROCESSOR: gettext_lazy("verwerker"),
    RecipientRole.CONTROLLER: gettext_lazy("verwerkingsverantwoordelijke"),
}
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RegisterRow:
    key: str
    cells: tuple[tuple[str, ...], ...]  # one tuple of lines per column


@dataclass(frozen=True)
class Register:
    language: str
    version: str
    controller: tuple[str, ...]
    # Each row carries the summary of (g); the page lists every measure once.
    measures: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[RegisterRow, ...]


def build_register(policy: Policy, language: str) -> Register:
    lang = language_of(language)
    with override(lang):
        c = policy.controller
        a = c.address
        return Register(
            language=lang,
            version=policy.version,
            controller=(
                c.name,
                f"{a.street}, {a.postcode} {a.city}, {country_name(a.country)}",
                f"{c.email} · {c.phone}",
                *([_("KvK-nummer: %(number)s") % {"number": c.kvk_number}] if c.kvk_number else []),
            ),
            measures=tuple(
                m.label.get(lang)
                for m in (
                    *policy.security.organisational,
                    *policy.security.technical,
                    *policy.security.management,
                )
            )
            + tuple(backup_sentences(policy, lang))
            + tuple(duties_sentences(policy, lang)),
            columns=(
                _("(b) Doel"),
                _("(b) Grondslag"),
                _("(c) Betrokkenen"),
                _("(c) Persoonsgegevens"),
                _("Waar bewaard"),
                _("(d) Ontvangers"),
                _("(e) Doorgifte buiten de EU"),
                _("(f) Bewaartermijnen"),
                _("(g) Beveiligingsmaatregelen"),
            ),
            rows=tuple(_row(policy, lang, key) for key in policy.purposes),
        )


def _recipient_label(recipient: Recipient, lang: str) -> str:
    """ "ons incassobureau, Incasso B.V. (KvK 12345678)": the category and who it is."""
    label = recipient.label.get(lang)
    named = recipient_named(recipient)
    if named is None:
        return label
    name, kvk = named
    return f"{label}, {name}" + (f" (KvK {kvk})" if kvk else "")


def _row(policy: Policy, lang: str, key: str) -> RegisterRow:
    purpose = policy.purposes[key]
    categories = [policy.categories[k] for k in purpose.categories]
    subjects = dict.fromkeys(s for category in categories for s in category.subjects)
    recipients = [r for r in policy.recipients.values() if key in r.purposes]
    held = []
    retention = []
    for category in categories:
        where = f"{HELD[category.held]}"
        if category.held_where:
            where += f" ({category.held_where.get(lang)})"
        held.append(f"{category.label.get(lang)}: {where}")
        rule = policy.retention[category.retention]
        retention.append(
            f"{category.label.get(lang)}: {retention_term(rule, lang)}. "
            f"{retention_basis(rule, lang)}"
        )
        for other in category.other_retention:
            rule = policy.retention[other]
            retention.append(
                f"{category.label.get(lang)} ({rule.label.get(lang)}): "
                f"{retention_term(rule, lang)}. {retention_basis(rule, lang)}"
            )
    transfers = []
    for recipient in recipients:
        if recipient.location is Location.NON_EU:
            safeguard = recipient.safeguards.get(lang) if recipient.safeguards else ""
            condition = str(REQUIRES.get(recipient.requires, ""))
            transfers.append(
                f"{recipient.label.get(lang)} → {country_name(recipient.country)}: "
                f"{' '.join(filter(None, (condition, safeguard)))}".strip()
            )
    security = policy.security
    return RegisterRow(
        key=key,
        cells=(
            (purpose.label.get(lang), purpose.description.get(lang)),
            (legal_basis_text(purpose.legal_basis, purpose.legal_basis_detail.get(lang)),),
            tuple(policy.data_subjects[s].label.get(lang) for s in subjects),
            tuple(category.label.get(lang) for category in categories),
            tuple(held),
            tuple(
                f"{_recipient_label(r, lang)} ({ROLE_SHORT[r.role]}, {country_name(r.country)}): "
                + ", ".join(policy.categories[k].label.get(lang) for k in r.categories)
                for r in recipients
            )
            or (_("geen"),),
            tuple(transfers) or (_("geen"),),
            tuple(retention),
            (security.intro.get(lang),),
        ),
    )


def neutralise(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def register_csv(register: Register) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with override(register.language):
        writer.writerow(
            [neutralise(c) for c in (_("Sleutel"), _("(a) Verwerkingsverantwoordelijke"))]
            + [neutralise(c) for c in register.columns]
        )
    controller = "\n".join(register.controller)
    for row in register.rows:
        cells = [row.key, controller, *("\n".join(lines) for lines in row.cells)]
        writer.writerow([neutralise(cell) for cell in cells])
    return buffer.getvalue()
