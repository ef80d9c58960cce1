"""Audit of reveals: every purpose-bound read of personal data, and every refusal.

Inside a reveal batch (one per request, opened by the vault middleware) reads are
gathered and written as one audit entry per actor and purpose when the batch ends.
Staff reveals also land in the reveal ledger, one row per person, so that each
customer can see on their "my data" page when staff looked and why.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from kluis.audit.chain import Event, audit_append, audit_append_many
from kluis.audit.models import RevealRecord
from kluis.audit.withholding import current_withholding_id
from kluis.policy.cases import Case
from kluis.policy.enforce import Actor

# Above this many people an entry carries a digest of the subject list, not the list.
LISTED_SUBJECTS = 50


# (actor, purpose, withholding, case) -> subject -> categories; the case is "" for none.
_Reads = dict[tuple[Actor, str, int | None, str], dict[uuid.UUID, set[str]]]


@dataclass
class _Batch:
    reads: _Reads = field(default_factory=dict)


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "kluis_reveals", default=None
)


@contextlib.contextmanager
def reveal_batch() -> Iterator[None]:
    if _batch.get() is not None:
        yield
        return
    batch = _Batch()
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
        if batch.reads:
            _flush(batch)


def record_reveal(
    *,
    actor: Actor,
    purpose: str,
    category: str,
    subject: uuid.UUID,
    case: Case | None = None,
) -> None:
    batch = _batch.get()
    key = (actor, purpose, current_withholding_id(), str(case or ""))
    if batch is None:
        _flush(_Batch(reads={key: {subject: {category}}}))
        return
    batch.reads.setdefault(key, {}).setdefault(subject, set()).add(category)


def record_bulk_reveal(
    *,
    actor: Actor,
    purpose: str,
    categories: Sequence[str],
    subjects: Sequence[uuid.UUID],
    case: Case | None = None,
) -> None:
    batch = _batch.get()
    cats = set(categories)
    key = (actor, purpose, current_withholding_id(), str(case or ""))
    if batch is None:
        # One set shared by every person: _flush only reads it.
        _flush(_Batch(reads={key: dict.fromkeys(subjects, cats)}))
        return
    target = batch.reads.setdefault(key, {})
    for subject in subjects:
        target.setdefault(subject, set()).update(cats)


def _subjects_field(subjects: list[uuid.UUID]) -> dict[str, object]:
    ordered = sorted(str(s) for s in subjects)
    if len(ordered) <= LISTED_SUBJECTS:
        return {"subjects": ordered}
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()
    return {"subject_count": len(ordered), "subjects_sha256": digest}


@transaction.atomic
def _flush(batch: _Batch) -> None:
    events = []
    for (actor, purpose, withholding, case), reads in batch.reads.items():
        subjects = list(reads)
        categories = sorted(set().union(*reads.values()))
        single = subjects[0] if len(subjects) == 1 else None
        data: dict[str, object] = {"purpose": purpose, "categories": categories}
        if case:
            data["case"] = case
        events.append(
            Event(
                action="vault.reveal",
                actor=actor.ref,
                subject=single,
                data={**data, **_subjects_field(subjects)},
                withholding=withholding,
            )
        )
    entries = audit_append_many(events)
    now = timezone.now()
    records: list[RevealRecord] = []
    for entry, ((actor, purpose, withholding, case), reads) in zip(
        entries, batch.reads.items(), strict=True
    ):
        if actor.kind != "staff":
            continue
        records.extend(
            RevealRecord(
                subject=subject,
                at=now,
                actor=actor.ref,
                purpose=purpose,
                case=case,
                categories=sorted(cats),
                audit_seq=entry.seq,
                withholding_id=withholding,
            )
            for subject, cats in reads.items()
        )
    RevealRecord.objects.bulk_create(records, batch_size=1000)


def record_refusal(
    *,
    actor: Actor,
    purpose: str,
    category: str,
    subject: uuid.UUID,
    reason: str,
    case: Case | None = None,
) -> None:
    # Written at once, outside any batch: a refusal must be on record even if the
    # request that caused it fails afterwards.
    data = {"purpose": purpose, "category": category, "reason": reason}
    if case is not None:
        data["case"] = str(case)
    audit_append(action="vault.reveal_refused", actor=actor.ref, subject=subject, data=data)
