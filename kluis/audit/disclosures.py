"""Disclosures: personal data that leaves kluis, checked against the policy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from kluis.audit.chain import Event, audit_append_many
from kluis.audit.models import Disclosure
from kluis.policy.enforce import Actor, check_disclosure
from kluis.policy.loader import current_policy
from kluis.rows import rows_insert


@dataclass(frozen=True)
class Sent:
    """One disclosure to record: `categories` of `subject` went to `recipient`."""

    subject: uuid.UUID
    recipient: str
    purpose: str
    categories: list[str]
    actor: Actor
    reference: str = ""


@transaction.atomic
def disclosure_record(
    *,
    subject: uuid.UUID,
    recipient: str,
    purpose: str,
    categories: list[str],
    actor: Actor,
    reference: str = "",
) -> Disclosure:
    """Record that `categories` of `subject` went to `recipient`.

    Raises PolicyViolation when the policy does not declare this flow; call it in the
    same transaction as the send is queued, so a refused flow sends nothing.
    """
    (made,) = disclosures_record([Sent(subject, recipient, purpose, categories, actor, reference)])
    return made


@transaction.atomic
def disclosures_record(sends: list[Sent]) -> list[Disclosure]:
    """Record several disclosures at once: each checked as disclosure_record checks it,
    then one append to the audit chain and one insert (a batch job's many sends)."""
    rows, ids = _record(sends)
    made = [Disclosure(pk=pk, **row) for pk, row in zip(ids, rows, strict=True)]
    for disclosure in made:  # as bulk_create leaves them: saved, in this database
        disclosure._state.adding = False
        disclosure._state.db = Disclosure.objects.db
    return made


@transaction.atomic
def disclosures_insert(sends: list[Sent]) -> None:
    """As disclosures_record, for a batch that needs no rows back (a registration run's
    thousand sends): the same checks, chain entries and stored values, without building
    a model instance per row."""
    _record(sends)


def _record(sends: list[Sent]) -> tuple[list[dict[str, Any]], list[int]]:
    """Check, append to the chain and insert: the rows' values and their ids."""
    policy = current_policy()
    bases = []
    for sent in sends:
        check_disclosure(recipient=sent.recipient, purpose=sent.purpose, categories=sent.categories)
        declared = policy.recipients[sent.recipient]
        if declared.requires in ("consent", "legal_order") and not sent.reference:
            raise ValueError(f"a disclosure to {sent.recipient} must name its {declared.requires}")
        bases.append(policy.purposes[sent.purpose].legal_basis.value)
    entries = audit_append_many(
        Event(
            action="disclosure",
            actor=sent.actor.ref,
            subject=sent.subject,
            data={
                "recipient": sent.recipient,
                "purpose": sent.purpose,
                "categories": sorted(sent.categories),
                "legal_basis": legal_basis,
                "reference": sent.reference,
            },
        )
        for sent, legal_basis in zip(sends, bases, strict=True)
    )
    rows = [
        {
            "subject": sent.subject,
            "at": entry.at,
            "recipient": sent.recipient,
            "purpose": sent.purpose,
            "categories": sorted(sent.categories),
            "legal_basis": legal_basis,
            "reference": sent.reference,
            "actor": sent.actor.ref,
            "audit_seq": entry.seq,
            "withholding_id": entry.withholding_id,
        }
        for sent, legal_basis, entry in zip(sends, bases, entries, strict=True)
    ]
    # bulk_create spent a third of a registration run's own time on per-row model and
    # compiler work for these plain columns; the stored values are the same.
    return rows, rows_insert(Disclosure, _COLUMNS, [[row[c] for c in _COLUMNS] for row in rows])


# Columns of a ledger row as _record writes them (kluis.rows: one multi-row INSERT).
_COLUMNS = (
    "subject",
    "at",
    "recipient",
    "purpose",
    "categories",
    "legal_basis",
    "reference",
    "actor",
    "audit_seq",
    "withholding_id",
)


def disclosures_for(subject: uuid.UUID) -> list[Disclosure]:
    return list(Disclosure.objects.filter(subject=subject))


def disclosure_counts() -> list[tuple[str, int, int]]:
    """(recipient, disclosures, of which still withheld from the person), for the register.

    Counts include what a person may not be told of yet: the record of processing
    is the controller's, and the supervisory authority may ask for it.
    """
    from django.db.models import Count, Q
    from django.utils import timezone

    today = timezone.localdate()
    holding = Q(withholding__isnull=False, withholding__lifted_at__isnull=True) & (
        Q(withholding__until__isnull=True) | Q(withholding__until__gt=today)
    )
    rows = (
        Disclosure.objects.values("recipient")
        .annotate(total=Count("pk"), withheld=Count("pk", filter=holding))
        .order_by("recipient")
    )
    return [(r["recipient"], r["total"], r["withheld"]) for r in rows]
