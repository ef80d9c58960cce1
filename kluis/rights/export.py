"""The access and portability export (art. 15 and 20 GDPR, R36 and R42).

Generated from the policy and from what the vault holds for the person
(`sealed_holdings`), so a sealed field any app adds later is in it without a line
here. Each category carries its values (with the row they sit on by name), its
purposes with their legal basis, the recipients it went to (the disclosure ledger),
how long it is kept (a date where the rule gives one) and its source. Then the rest
of the copy (kluis/rights/copy.py): the person's orders, invoices, payments,
reminders and collection costs, the recipients by their own names, transfers outside
the EU with their safeguards, automated decisions, what is held outside kluis; the
staff reveals, the activity on record in words, and the person's rights with how to
complain to the Autoriteit Persoonsgegevens. No internal key or code is in the text.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
import zipfile
from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kluis import uploads
from kluis.accounts.selectors import legal_basis_label, retention_rule_text
from kluis.audit.models import AuditEntry, Disclosure, RevealRecord
from kluis.audit.usage import purposes_shown, purposes_used
from kluis.audit.withholding import visible_to_subject
from kluis.policy.cases import Case, case_describe
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.schema import LegalBasis, Location, Policy
from kluis.rights import retention
from kluis.rights.activity import event_label
from kluis.rights.copy import ShownRecipient, copy_parts, disclosure_recipient
from kluis.rights.linked import linked_subjects
from kluis.vault.fields import (
    SealedField,
    SealedFileField,
    SealedModel,
    file_bytes,
    period_in,
    sealed_fields,
)
from kluis.vault.holdings import Holding, sealed_holdings, sealed_models
from kluis.vault.models import DataKey
from kluis.vault.reveal import reveal_many

PURPOSE = "data_subject_rights"
ARCHIVE_NAME = "mijn-gegevens"
FILES_FOLDER = "bestanden"
LINKED_ACTOR = Actor.system("rights")
FORMAT = "kluis.access-export/1"


RowKey = tuple[type[SealedModel], object, str]


def _reveal(
    holdings: Sequence[Holding], actor: Actor, case: Case | None
) -> dict[RowKey, str | None]:
    """Plain values per (model, primary key, field name), one bulk reveal per model."""
    by_model: dict[type[SealedModel], dict[int, tuple[SealedModel, set[str]]]] = {}
    for h in holdings:
        rows = by_model.setdefault(type(h.row), {})
        rows.setdefault(id(h.row), (h.row, set()))[1].add(h.field.name)
    values: dict[RowKey, str | None] = {}
    for model, rows in by_model.items():
        ordered = list(rows.values())
        names = sorted({n for _row, fields in ordered for n in fields})
        plain = reveal_many(
            [row for row, _f in ordered], names, purpose=PURPOSE, actor=actor, case=case
        )
        for (row, fields), opened in zip(ordered, plain, strict=True):
            for name in fields:
                values[(model, row.pk, name)] = opened[name]
    return values


def _scope_of(h: Holding, policy: Policy) -> tuple[str, str]:
    field: SealedField = h.field
    cls = field.retention or policy.categories[field.category].retention
    period = period_in(h.row, cls, policy)
    return cls, period


def build_export(
    *, subject: uuid.UUID, actor: Actor, language: str, case: Case | None = None
) -> dict[str, Any]:
    """The whole answer to an access request, as plain data (JSON-ready).

    Made by the privacy officer, it needs the request as its case. Every text in it
    is readable in `language`: no category, purpose or retention keys, no codes.
    """
    with translation.override(language):
        return _build(subject=subject, actor=actor, language=language, case=case)


def _build(*, subject: uuid.UUID, actor: Actor, language: str, case: Case | None) -> dict[str, Any]:
    policy = current_policy()
    # The person's own holdings, and records held under their address (kluis.rights.linked):
    # questions, and contact-person records (their own, or the organisation's contacts).
    linked = linked_subjects(subject)
    owners = [subject, *linked]
    own = sealed_holdings(subject)
    # Held under their own subject id, they open for the rights app on the person's
    # behalf: the vault lets a person's actor open only their own subject's data.
    theirs = [h for owner in linked for h in sealed_holdings(owner)]
    holdings = own + theirs
    values = _reveal(own, actor, case) if own else {}
    if theirs:
        values.update(_reveal(theirs, LINKED_ACTOR, None))
    created = {
        (k.subject, k.retention_class, k.period): k.created_at
        for k in DataKey.objects.filter(subject__in=owners).only(
            "subject", "retention_class", "period", "created_at"
        )
    }
    # What the person may not be told of yet (a legal order under secrecy) stays out.
    disclosures = list(
        visible_to_subject(Disclosure.objects.filter(subject=subject), subject).order_by("at")
    )
    parts = copy_parts(subject)
    # A sealed value of one of the person's rows says which row: "factuur F2026-000012".
    row_names = {
        (type(r.row), r.row.pk): f"{r.kind} {r.reference}".strip()
        for r in parts.found.records
        if r.row is not None
    }
    used = purposes_used(subject)
    files: list[dict[str, Any]] = []
    contents: dict[str, bytes] = {}
    categories: dict[str, dict[str, Any]] = {}
    kept_by_scope: dict[tuple[uuid.UUID, str, str], dict[str, Any]] = {}
    for h in holdings:
        key = h.field.category
        entry = categories.get(key)
        if entry is None:
            entry = categories[key] = _category(
                policy, key, language, disclosures, purposes_shown(subject, key, used)
            )
        cls, period = _scope_of(h, policy)
        where = row_names.get((type(h.row), h.row.pk)) or str(h.row._meta.verbose_name)
        value = values.get((type(h.row), h.row.pk, h.field.name))
        if isinstance(h.field, SealedFileField) and value is not None:
            # A file is a file of its own in the archive; the text names where it is.
            value = file_entry(h, value, where, files, contents)
        entry["values"].append({"where": where, "field": str(h.field.verbose_name), "value": value})
        owner = h.row.vault_subject()
        kept = kept_by_scope.get((owner, cls, period))
        if kept is None:
            kept = _kept(policy, owner, cls, period, created.get((owner, cls, period)), language)
            kept_by_scope[(owner, cls, period)] = kept
        if kept not in entry["retention"]:
            entry["retention"].append(kept)
    return {
        "format": FORMAT,
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "language": language,
        "controller": _controller(policy),
        "subject": str(subject),
        "categories": list(categories.values()),
        "files": files,
        # Not part of the JSON (export_json leaves out "_" keys): the files' bytes,
        # by their path in the archive (export_archive).
        "_file_contents": contents,
        "records": [
            {
                "kind": r.kind,
                "reference": r.reference,
                "date": r.on.isoformat() if r.on else None,
                "facts": [{"label": label, "value": value} for label, value in r.facts],
            }
            for r in parts.found.records
        ],
        "recipients": [_disclosure(policy, d, language) for d in disclosures],
        "recipients_by_name": [_shown_recipient(r) for r in parts.recipients],
        "transfers_outside_eu": {
            "transfers": [_shown_recipient(r) for r in parts.transfers],
            "none": "" if parts.transfers else _no_transfer(),
        },
        "automated_decisions": parts.automated_decisions,
        "held_outside_kluis": [
            {
                "label": h.label,
                "description": h.description,
                "where": h.where,
                "how_long": h.how_long,
            }
            for h in parts.held_outside
        ],
        "staff_reveals": [
            {
                "at": r.at.isoformat(timespec="seconds"),
                "purpose": _label(policy.purposes, r.purpose, language),
                "case": case_describe(r.case),
                "categories": [_label(policy.categories, c, language) for c in r.categories],
            }
            for r in visible_to_subject(
                RevealRecord.objects.filter(subject=subject), subject
            ).order_by("at")
        ],
        "activity": [
            {"at": at.isoformat(timespec="seconds"), "event": event_label(action, language)}
            for at, action in visible_to_subject(
                AuditEntry.objects.filter(subject=subject), subject
            )
            .order_by("seq")
            .values_list("at", "action")
        ],
        "rights": [
            {
                "right": r.label.get(language),
                "article": f"{r.article} AVG" if language == "nl" else f"{r.article} GDPR",
                "how": r.description.get(language),
            }
            for r in policy.rights.values()
        ],
        "complaint": {
            "authority": policy.controller.supervisory_authority.name,
            "url": policy.controller.supervisory_authority.url,
        },
    }


def file_entry(
    h: Holding, value: str, where: str, files: list[dict[str, Any]], contents: dict[str, bytes]
) -> str:
    """Put a sealed file's bytes in `contents` under a path of its own; its entry in
    `files` says what it is. Returns the path, which the copy shows as the value.

    A field with an `export_name` gives the path its name ("documenten/kvk-uittreksel.pdf",
    a second one "documenten/kvk-uittreksel-2.pdf"); other files are numbered in
    `FILES_FOLDER`. The extension comes from the stored content type, or from the
    file's first bytes when the content type is not one kluis names.
    """
    assert isinstance(h.field, SealedFileField)
    content = file_bytes(value)
    mimetype = h.field.mimetype_of(h.row)
    if uploads.extension(mimetype) == uploads.extension(""):
        mimetype = uploads.sniff(content[:512]) or mimetype
    ext = uploads.extension(mimetype)
    stem = h.field.export_name
    if stem:
        taken = {name.rpartition(".")[0] for name in contents}
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}"
        path = f"{name}.{ext}"
    else:
        path = f"{FILES_FOLDER}/{len(files) + 1:03d}.{ext}"
    contents[path] = content
    files.append(
        {
            "path": path,
            "where": where,
            "field": str(h.field.verbose_name),
            "mimetype": mimetype,
            "size": len(content),
        }
    )
    return path


def holds_files(subject: uuid.UUID) -> bool:
    """Whether the person's copy has a file in it (an upload, an attachment): then the
    mailed answer carries the files too. Asked without opening anything."""
    for owner in (subject, *linked_subjects(subject)):
        for model in sealed_models():
            for field in sealed_fields(model):
                if isinstance(field, SealedFileField):
                    rows = model._default_manager.filter(model.vault_subject_q(owner))
                    if rows.filter(**{f"{field.attname}__isnull": False}).exists():
                        return True
    return False


def export_files_archive(export: dict[str, Any]) -> bytes:
    """The copy's files alone, as one zip, by the paths its JSON names them with (the
    mailed answer: the JSON and the PDF go as attachments of their own)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in export.get("_file_contents", {}).items():
            archive.writestr(path, content)
    return buffer.getvalue()


def _no_transfer() -> str:
    return _("We hebben geen gegevens van je gegeven aan iemand buiten de EU.")


def _shown_recipient(r: ShownRecipient) -> dict[str, Any]:
    return {
        "name": r.name,
        "role": r.role,
        "country": r.country,
        "why": r.why,
        "outside_eu": r.outside_eu,
        "safeguards": r.safeguards,
    }


def _label(table: Any, key: str, language: str) -> str:
    item = table.get(key)
    return str(item.label.get(language)) if item is not None else key


def _controller(policy: Policy) -> dict[str, str]:
    c = policy.controller
    return {
        "name": c.name,
        "trade_name": c.trade_name,
        "address": f"{c.address.street}, {c.address.postcode} {c.address.city}",
        "email": c.email,
    }


def _category(
    policy: Policy, key: str, language: str, disclosures: list[Disclosure], purposes: list[str]
) -> dict[str, Any]:
    declared = policy.categories[key]
    return {
        "label": declared.label.get(language),
        "description": declared.description.get(language),
        "source": declared.source.get(language),
        "values": [],
        "purposes": [
            {
                "purpose": p.label.get(language),
                "legal_basis": legal_basis_label(p.legal_basis),
                "legal_basis_detail": p.legal_basis_detail.get(language),
            }
            for p in (policy.purposes[k] for k in purposes)
        ],
        "recipients": [
            _disclosure(policy, d, language) for d in disclosures if key in d.categories
        ],
        "retention": [],
    }


LOCATIONS = {
    Location.NL: gettext_lazy("in Nederland"),
    Location.EU: gettext_lazy("in de EU"),
    Location.NON_EU: gettext_lazy("buiten de EU"),
}


def _disclosure(policy: Policy, d: Disclosure, language: str) -> dict[str, Any]:
    declared = policy.recipients.get(d.recipient)
    return {
        "at": d.at.isoformat(timespec="seconds"),
        "recipient": disclosure_recipient(policy, d),
        "location": str(LOCATIONS[declared.location]) if declared else "",
        "purpose": _label(policy.purposes, d.purpose, language),
        "legal_basis": legal_basis_label(LegalBasis(d.legal_basis)),
        "categories": [_label(policy.categories, c, language) for c in d.categories],
        "reference": d.reference,
    }


def _kept(
    policy: Policy,
    subject: uuid.UUID,
    cls: str,
    period: str,
    created_at: dt.datetime | None,
    language: str,
) -> dict[str, Any]:
    rule = policy.retention[cls]
    until = retention.kept_until(policy, subject, cls, period, created_at=created_at)
    return {
        "class": rule.label.get(language),
        "period": period,
        "until": until.isoformat() if until else None,
        "rule": retention_rule_text(rule),
        "legal_duty": rule.legal_duty,
        "basis": rule.basis.get(language),
    }


def export_shown(export: dict[str, Any]) -> dict[str, Any]:
    """The export as JSON shows it: without the files' bytes (those go in the archive)."""
    return {k: v for k, v in export.items() if not k.startswith("_")}


def export_json(export: dict[str, Any]) -> bytes:
    return json.dumps(export_shown(export), ensure_ascii=False, indent=2).encode()


def export_archive(export: dict[str, Any]) -> bytes:
    """The copy as one zip: the JSON, the readable PDF, and every file the person gave
    us (an attachment, an upload) as a file of its own (`file_entry`), which the
    JSON's values and its "files" list name by path."""
    from kluis.rights.pdf import export_pdf

    return zip_of(
        {
            f"{ARCHIVE_NAME}.json": export_json(export),
            f"{ARCHIVE_NAME}.pdf": export_pdf(export),
            **export.get("_file_contents", {}),
        }
    )


def zip_of(members: dict[str, bytes]) -> bytes:
    """A zip of the members, by path, in their order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in members.items():
            archive.writestr(path, content)
    return buffer.getvalue()


def activity_summary(export: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    """(action, count, first, last) of the activity log, for the readable PDF."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for item in export["activity"]:
        action, at = item["event"], item["at"][:10]
        counts[action] += 1
        first.setdefault(action, at)
        last[action] = at
    return [(a, n, first[a], last[a]) for a, n in sorted(counts.items())]
