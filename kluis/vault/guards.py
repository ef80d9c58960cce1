"""Checks on a reveal that depend on the person, beside the policy's purpose check.

The policy says which purposes may use a category (kluis.policy.enforce). Some limits
depend on the person's own situation: data kept after an erasure opens only for the
duty it is kept for, a restriction of processing (art. 18 GDPR) leaves only storage,
legal claims and legal duties, an upheld objection (art. 21) ends the purposes it
names. The app that records those registers a guard here; the vault asks every guard
before it opens a value, for every person in a bulk reveal, and refuses (and audits)
when one names a reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass

from kluis.policy.enforce import Actor


@dataclass(frozen=True)
class RevealAsk:
    """What is asked: fields as (category, retention class), for a purpose, by an actor."""

    fields: frozenset[tuple[str, str]]
    purpose: str
    actor: Actor


# (subjects, ask) -> {subject: reason} for each subject the guard refuses.
RevealGuard = Callable[[Collection[uuid.UUID], RevealAsk], dict[uuid.UUID, str]]
_guards: list[RevealGuard] = []


def register_reveal_guard(guard: RevealGuard) -> RevealGuard:
    if guard not in _guards:
        _guards.append(guard)
    return guard


def refusals(subjects: Collection[uuid.UUID], ask: RevealAsk) -> dict[uuid.UUID, str]:
    """The first reason any guard gives, per subject it refuses."""
    refused: dict[uuid.UUID, str] = {}
    for guard in _guards:
        for subject, reason in guard(subjects, ask).items():
            refused.setdefault(subject, reason)
    return refused
