"""Erasure (art. 17 GDPR, R38-R40): shred what may go, keep what the law requires.

Erasure is key destruction: every data key of the person in a retention class with
no legal duty is shredded, so every copy sealed under it (and every old backup of
it) is unreadable. Keys of a class with a legal duty (fiscal records, per fiscal
year) stay, and the answer says until when and on which legal ground. The account
is deleted; rows kept for the ledgers (the customer number, audit entries) hold no
readable personal data afterwards.

Other apps can hold an erasure back while something is still running (an open
invoice, a running contract): they register an `ErasureBlocker`. The answer then
names each blocker and what happens next, and nothing is erased yet.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kluis.formats import long_date
from kluis.policy.loader import current_policy
from kluis.policy.schema import Policy
from kluis.rights import retention
from kluis.vault.fields import period_in
from kluis.vault.holdings import sealed_holdings
from kluis.vault.models import DataKey


@dataclass(frozen=True)
class Blocker:
    """Something that must finish before a person can be erased."""

    key: str  # e.g. "billing.open_invoice", never personal
    reason_nl: str
    reason_en: str
    next_nl: str
    next_en: str

    def as_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "reason_nl": self.reason_nl,
            "reason_en": self.reason_en,
            "next_nl": self.next_nl,
            "next_en": self.next_en,
        }


ErasureBlocker = Callable[[uuid.UUID], list[Blocker]]
_blockers: list[ErasureBlocker] = []


def register_erasure_blocker(check: ErasureBlocker) -> ErasureBlocker:
    """Add a check that may hold back the erasure of a subject (billing, shop)."""
    if check not in _blockers:
        _blockers.append(check)
    return check


def unregister_erasure_blocker(check: ErasureBlocker) -> None:
    if check in _blockers:
        _blockers.remove(check)


def erasure_blockers(subject: uuid.UUID) -> list[Blocker]:
    return [blocker for check in _blockers for blocker in check(subject)]


@dataclass(frozen=True)
class ScopePlan:
    subject: uuid.UUID
    retention_class: str
    period: str
    erase: bool
    until: dt.date | None


def key_plan(subjects: list[uuid.UUID], policy: Policy | None = None) -> list[ScopePlan]:
    """Every live key of `subjects`: shred it (no legal duty) or keep it until when."""
    policy = policy or current_policy()
    keys = DataKey.objects.filter(subject__in=subjects, wrapped__isnull=False).order_by(
        "retention_class", "period"
    )
    plans = []
    for key in keys:
        rule = policy.retention.get(key.retention_class)
        if rule is None or not rule.legal_duty:
            plans.append(ScopePlan(key.subject, key.retention_class, key.period, True, None))
            continue
        until = retention.retention_until(rule, period=key.period, created_at=key.created_at)
        plans.append(ScopePlan(key.subject, key.retention_class, key.period, False, until))
    return plans


def category_outcome(subject: uuid.UUID, policy: Policy | None = None) -> list[dict[str, Any]]:
    """Per category held and key scope: "erased", or "kept" until when and why."""
    policy = policy or current_policy()
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    plans = {(p.retention_class, p.period): p for p in key_plan([subject], policy)}
    for holding in sealed_holdings(subject):
        cls = holding.field.retention_class()
        period = period_in(holding.row, cls, policy)
        key = (holding.field.category, cls, period)
        if key in seen:
            continue
        plan = plans.get((cls, period))
        if plan is None:  # already shredded: nothing readable is left of it
            continue
        seen[key] = {
            "category": holding.field.category,
            "class": cls,
            "period": period,
            "status": "erased" if plan.erase else "kept",
            "until": plan.until.isoformat() if plan.until else None,
        }
    return sorted(seen.values(), key=lambda i: (i["status"], i["category"], i["period"]))


def describe_outcome(outcome: dict[str, Any], language: str) -> list[dict[str, str]]:
    """The answer's lines: "gewist", or "bewaard tot <datum> vanwege <grondslag>"."""
    policy = current_policy()
    en = language.startswith("en")
    lines = []
    for item in outcome.get("items", []):
        category = policy.categories.get(item["category"])
        label = category.label.get(language) if category else item["category"]
        rule = policy.retention.get(item["class"])
        if item["status"] == "erased":
            text = "erased" if en else "gewist"
        else:
            until = long_date(item["until"], language) if item["until"] else "?"
            basis = rule.basis.get(language) if rule else item["class"]
            text = (
                f"kept until {until} because of: {basis}"
                if en
                else f"bewaard tot {until} vanwege: {basis}"
            )
        if item.get("period"):
            label = f"{label} ({'financial year' if en else 'boekjaar'} {item['period']})"
        lines.append({"category": label, "status": item["status"], "text": text})
    return lines
