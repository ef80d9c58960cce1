"""What kept data, a restriction and an objection still allow (art. 17(3), 18, 21 GDPR).

A guard on every reveal (kluis.vault.guards), registered when the app starts:

- data of a person who was erased, kept for a legal duty (the fiscal records), opens
  only for the purposes that retention class names in the policy (`kept_for`);
- while a restriction holds, a reveal by staff or the system is refused for every
  purpose the policy does not mark `during_restriction` (storage, legal claims, legal
  duties, the person's own rights), and kept data only for its duty;
- an upheld objection ends the purposes it names.

The person reading their own data is never held back by their own restriction or
objection. Refusals are audited like every other refusal.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from kluis.audit.chain import audit_append
from kluis.billing.bulk import among
from kluis.policy.loader import current_policy
from kluis.policy.schema import LegalBasis
from kluis.rights.models import Erasure, ProcessingLimit, RightsRequest
from kluis.vault.guards import RevealAsk, register_reveal_guard

CHUNK = 5000


class LimitError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _chunks(subjects: Collection[uuid.UUID]) -> list[list[uuid.UUID]]:
    ordered = list(subjects)
    return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)]


def limits_guard(subjects: Collection[uuid.UUID], ask: RevealAsk) -> dict[uuid.UUID, str]:
    policy = current_policy()
    purpose = ask.purpose
    duty = {c for _cat, c in ask.fields if policy.retention[c].legal_duty}
    not_for_duty = sorted(c for c in duty if purpose not in policy.retention[c].kept_for)
    refused: dict[uuid.UUID, str] = {}
    if not_for_duty:
        for chunk in _chunks(subjects):
            for subject in Erasure.objects.filter(among(Erasure, "subject", chunk)).values_list(
                "subject", flat=True
            ):
                refused[subject] = (
                    f"kept after erasure for a legal duty only ({', '.join(not_for_duty)}); "
                    f"not for {purpose!r}"
                )
    if ask.actor.kind == "subject":
        return refused
    declared = policy.purposes.get(purpose)
    for chunk in _chunks(subjects):
        active = ProcessingLimit.objects.filter(
            among(ProcessingLimit, "subject", chunk), ended_at__isnull=True
        )
        for limit in active:
            if limit.subject in refused:
                continue
            if limit.kind == ProcessingLimit.Kind.RESTRICTION and (
                declared is None or not declared.during_restriction or not_for_duty
            ):
                refused[limit.subject] = f"processing restricted (art. 18 GDPR); not {purpose!r}"
            elif limit.kind == ProcessingLimit.Kind.OBJECTION and purpose in limit.purposes:
                refused[limit.subject] = f"objection upheld (art. 21 GDPR) against {purpose!r}"
    return refused


register_reveal_guard(limits_guard)


def objectionable_purposes() -> list[str]:
    """Purposes resting on a legitimate interest or a public task: art. 21(1) applies."""
    grounds = {LegalBasis.LEGITIMATE_INTEREST, LegalBasis.PUBLIC_TASK}
    return [k for k, p in current_policy().purposes.items() if p.legal_basis in grounds]


def restricted_purposes() -> list[str]:
    """The purposes that still run during a restriction, in policy order."""
    return [k for k, p in current_policy().purposes.items() if p.during_restriction]


def holding(subject: uuid.UUID) -> list[ProcessingLimit]:
    return list(ProcessingLimit.objects.filter(subject=subject, ended_at__isnull=True))


@transaction.atomic
def restriction_start(*, request: RightsRequest, by: str) -> ProcessingLimit:
    assert request.subject is not None
    existing = ProcessingLimit.objects.filter(
        subject=request.subject, kind=ProcessingLimit.Kind.RESTRICTION, ended_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    limit = ProcessingLimit.objects.create(
        subject=request.subject,
        kind=ProcessingLimit.Kind.RESTRICTION,
        request=request,
        started_by=by,
    )
    audit_append(
        action="rights.restriction_started",
        actor=by,
        subject=request.subject,
        data={"request": str(request.pk), "limit": limit.pk},
    )
    return limit


@transaction.atomic
def objection_uphold(*, request: RightsRequest, purposes: list[str], by: str) -> ProcessingLimit:
    assert request.subject is not None
    allowed = set(objectionable_purposes())
    if not purposes or set(purposes) - allowed:
        raise LimitError("objection_purposes")
    limit = ProcessingLimit.objects.create(
        subject=request.subject,
        kind=ProcessingLimit.Kind.OBJECTION,
        purposes=sorted(purposes),
        request=request,
        started_by=by,
    )
    audit_append(
        action="rights.objection_upheld",
        actor=by,
        subject=request.subject,
        data={"request": str(request.pk), "limit": limit.pk, "purposes": limit.purposes},
    )
    return limit


@transaction.atomic
def limit_end(*, limit: ProcessingLimit, by: str) -> None:
    """End a restriction (the person is told first, art. 18(3)) or withdraw an objection."""
    if limit.ended_at is not None:
        raise LimitError("limit_ended")
    limit.ended_at = timezone.now()
    limit.ended_by = by
    limit.save(update_fields=["ended_at", "ended_by"])
    audit_append(
        action=f"rights.{limit.kind}_ended",
        actor=by,
        subject=limit.subject,
        data={"limit": limit.pk},
    )


# --- the end of a restriction, told in advance (art. 18(3) GDPR) ---------------------------


def restriction_notice_days() -> int:
    """How many days before a restriction ends the person is told (the policy's rights)."""
    days = current_policy().rights["restriction"].notice_days
    if days is None:
        raise LimitError("no_notice_days")
    return days


@transaction.atomic
def restriction_end_announce(
    *, limit: ProcessingLimit, by: str, ends_on: dt.date | None = None
) -> dt.date:
    """Set the day a restriction ends: at least the notice days ahead, so the person is
    told before it is lifted. The worker sends that notice and lifts it on the day."""
    locked = ProcessingLimit.objects.select_for_update().get(pk=limit.pk)
    if locked.kind != ProcessingLimit.Kind.RESTRICTION:
        raise LimitError("not_a_restriction")
    if locked.ended_at is not None:
        raise LimitError("limit_ended")
    if locked.ends_on is not None:
        raise LimitError("end_announced")
    earliest = timezone.localdate() + dt.timedelta(days=restriction_notice_days())
    ends_on = ends_on or earliest
    if ends_on < earliest:
        raise LimitError("end_too_soon")
    locked.ends_on = ends_on
    locked.save(update_fields=["ends_on"])
    limit.ends_on = ends_on
    audit_append(
        action="rights.restriction_end_announced",
        actor=by,
        subject=locked.subject,
        data={"limit": locked.pk, "ends_on": ends_on.isoformat()},
    )
    return ends_on


@dataclass(frozen=True)
class RestrictionEnds:
    noticed: int
    lifted: int


NoticeSender = Callable[[ProcessingLimit], bool]


def restriction_ends_run(*, notify: NoticeSender, today: dt.date | None = None) -> RestrictionEnds:
    """The worker's part: mail each notice once when its day has come (the end minus the
    notice days), then lift each restriction whose day has come and whose notice went.

    Each limit is handled in a transaction of its own under its row lock, with the
    notice's time written in the same transaction as the queued mail: a second run, or
    two workers at once, find it sent and queue nothing (the mail's dedupe key agrees).
    """
    today = today or timezone.localdate()
    notice_from = today + dt.timedelta(days=restriction_notice_days())
    open_ = ProcessingLimit.objects.filter(
        kind=ProcessingLimit.Kind.RESTRICTION, ended_at__isnull=True, ends_on__isnull=False
    )
    noticed = lifted = 0
    for pk in open_.filter(end_noticed_at__isnull=True, ends_on__lte=notice_from).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            limit = (
                ProcessingLimit.objects.select_for_update()
                .filter(pk=pk, ended_at__isnull=True, end_noticed_at__isnull=True)
                .first()
            )
            if limit is None:
                continue
            mailed = notify(limit)
            limit.end_noticed_at = timezone.now()
            limit.save(update_fields=["end_noticed_at"])
            audit_append(
                action="rights.restriction_end_noticed",
                actor="system:rights",
                subject=limit.subject,
                data={"limit": limit.pk, "ends_on": str(limit.ends_on), "mailed": mailed},
            )
            noticed += 1
    # Never lifted untold: only a restriction whose notice went out is lifted.
    for pk in open_.filter(end_noticed_at__isnull=False, ends_on__lte=today).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            limit = (
                ProcessingLimit.objects.select_for_update()
                .filter(pk=pk, ended_at__isnull=True)
                .first()
            )
            if limit is None:
                continue
            limit_end(limit=limit, by="system:rights")
            lifted += 1
    return RestrictionEnds(noticed, lifted)
