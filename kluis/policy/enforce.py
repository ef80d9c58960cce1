"""Purpose checks: the run-time half of the policy.

A personal value may be read in plain text only for a declared purpose that may use
its category, by an actor that purpose allows: a staff member holding one of the
purpose's roles, the worker ("system"), or the data subject themself ("subject").
Personal data may only leave kluis to a declared recipient, for one of that
recipient's purposes, limited to its categories.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from kluis.policy.loader import current_policy

ActorKind = Literal["staff", "system", "subject"]


class PolicyViolation(Exception):
    """The policy does not allow this use of personal data."""


@dataclass(frozen=True)
class Actor:
    """Who is asking. `ref` is pseudonymous: a user id, a job name, a subject id."""

    kind: ActorKind
    ref: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def staff(cls, user_id: object, roles: frozenset[str] | set[str]) -> Actor:
        return cls(kind="staff", ref=f"user:{user_id}", roles=frozenset(roles))

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(kind="system", ref=f"system:{job}")

    @classmethod
    def subject(cls, subject_id: uuid.UUID) -> Actor:
        return cls(kind="subject", ref=f"subject:{subject_id}")

    @property
    def subject_id(self) -> uuid.UUID | None:
        return uuid.UUID(self.ref.removeprefix("subject:")) if self.kind == "subject" else None

    def __str__(self) -> str:
        return self.ref


def check_reveal(*, category: str, purpose: str, actor: Actor, subject: uuid.UUID) -> None:
    policy = current_policy()
    declared = policy.purposes.get(purpose)
    if declared is None:
        raise PolicyViolation(f"purpose {purpose!r} is not declared in the privacy policy")
    if category not in policy.categories:
        raise PolicyViolation(f"category {category!r} is not declared in the privacy policy")
    if category not in declared.categories:
        raise PolicyViolation(f"purpose {purpose!r} may not use category {category!r}")
    if actor.kind == "staff":
        if not actor.roles & set(declared.actors):
            roles = ", ".join(sorted(actor.roles)) or "no role"
            raise PolicyViolation(f"{roles} may not act for purpose {purpose!r}")
    elif actor.kind not in declared.actors:
        raise PolicyViolation(f"the {actor.kind} may not act for purpose {purpose!r}")
    if actor.kind == "subject" and actor.subject_id != subject:
        raise PolicyViolation("a data subject may only read their own data")


def check_disclosure(*, recipient: str, purpose: str, categories: list[str]) -> None:
    policy = current_policy()
    declared = policy.recipients.get(recipient)
    if declared is None:
        raise PolicyViolation(f"recipient {recipient!r} is not declared in the privacy policy")
    if purpose not in declared.purposes:
        raise PolicyViolation(f"recipient {recipient!r} may not receive data for {purpose!r}")
    extra = sorted(set(categories) - set(declared.categories))
    if extra:
        raise PolicyViolation(f"recipient {recipient!r} may not receive {', '.join(extra)}")
    if not categories:
        raise PolicyViolation("a disclosure names the categories it sends")
