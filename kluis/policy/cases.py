"""Reveals bound to a case (R33): the second check of a staff reveal, after the purpose.

For a purpose whose policy entry has `case:`, a staff member may reveal a person's data
only within a case of that person that is still open: their open rights request, an
approved police register entry that names them, their open order or question, the
hand-over of their invoice to the debt collector. The reveal records the case, so the
person's "my data" page can say what each look served; without a case, or with one
that is closed or someone else's, the reveal is refused and the refusal audited.

The apps that own cases declare their kinds in a `cases` module (found at start-up,
like mail kinds), so the policy app imports none of them:

    @case_kind("order", label=_("bestelling"), open_for=_open_orders, describe=_number)
    def _order_holds(case_id: str, subject: uuid.UUID) -> bool:
        return Order.objects.filter(pk=case_id, customer_id=subject, status__in=OPEN).exists()
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kluis.policy.enforce import Actor, PolicyViolation
from kluis.policy.loader import current_policy

# case id, subject -> whether that case is open and is the subject's.
CaseHolds = Callable[[str, uuid.UUID], bool]
# subject -> the open cases of that subject, as (case id, short label) pairs.
CasesOpenFor = Callable[[uuid.UUID], list[tuple[str, str]]]
# case id -> a short label without personal data ("bestelling W2026-000012").
CaseDescribe = Callable[[str], str]


@dataclass(frozen=True)
class Case:
    """One case: its kind (a key of the registry) and the id of its row."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Case:
        kind, sep, case_id = text.partition(":")
        if not sep or not kind or not case_id:
            raise ValueError(f"not a case: {text!r}")
        return cls(kind, case_id)


@dataclass(frozen=True)
class CaseKind:
    kind: str
    holds: CaseHolds
    open_for: CasesOpenFor
    describe: CaseDescribe


_kinds: dict[str, CaseKind] = {}


def case_kind(
    kind: str, *, open_for: CasesOpenFor, describe: CaseDescribe
) -> Callable[[CaseHolds], CaseHolds]:
    def register(holds: CaseHolds) -> CaseHolds:
        known = _kinds.get(kind)
        if known is not None and known.holds is not holds:
            raise ValueError(f"case kind {kind!r} is declared twice")
        _kinds[kind] = CaseKind(kind, holds, open_for, describe)
        return holds

    return register


def case_kinds() -> dict[str, CaseKind]:
    return dict(_kinds)


def case_needed(purpose: str, actor: Actor) -> list[str]:
    """The kinds of case this actor needs for this purpose; [] when none is needed."""
    if actor.kind != "staff":
        return []
    declared = current_policy().purposes.get(purpose)
    if declared is None or declared.case is None:
        return []
    return list(declared.case.kinds)


def check_case(*, purpose: str, actor: Actor, subject: uuid.UUID, case: Case | None) -> None:
    """Refuse a staff reveal for a case-bound purpose without an open case of the person."""
    kinds = case_needed(purpose, actor)
    if not kinds:
        return
    if case is None:
        raise PolicyViolation(
            f"purpose {purpose!r} needs a case of this person ({', '.join(kinds)})"
        )
    if case.kind not in kinds:
        raise PolicyViolation(f"a {case.kind} is not a case for purpose {purpose!r}")
    registered = _kinds.get(case.kind)
    if registered is None:
        raise PolicyViolation(f"case kind {case.kind!r} is not known")
    if not registered.holds(case.id, subject):
        raise PolicyViolation(f"{case} is not an open case of this person")


def open_cases(subject: uuid.UUID, kinds: list[str]) -> list[tuple[Case, str]]:
    """The open cases of a person among `kinds`, with their short labels."""
    result: list[tuple[Case, str]] = []
    for kind in kinds:
        registered = _kinds.get(kind)
        if registered is not None:
            result.extend((Case(kind, cid), label) for cid, label in registered.open_for(subject))
    return result


def case_describe(text: str) -> str:
    """A recorded case ("order:<id>") as a short label, or "" for none."""
    if not text:
        return ""
    try:
        case = Case.parse(text)
    except ValueError:
        return text
    registered = _kinds.get(case.kind)
    return registered.describe(case.id) if registered is not None else text
