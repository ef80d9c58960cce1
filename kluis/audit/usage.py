"""Which purposes a person's data was actually used for, as far as they may know.

A person's own copy names the purposes that serve everyone with their data, and an
occasional purpose (a legal order, a hand-over to the collector) only once their data
was used or disclosed for it: from the reveal ledger, the disclosure ledger and the
audit entries about them, leaving out what they may not be told of yet.
"""

from __future__ import annotations

import json
import uuid

from kluis.audit.models import AuditEntry, Disclosure, RevealRecord
from kluis.audit.withholding import visible_to_subject
from kluis.policy.loader import current_policy


def purposes_used(subject: uuid.UUID) -> set[str]:
    used = set(
        visible_to_subject(RevealRecord.objects.filter(subject=subject), subject).values_list(
            "purpose", flat=True
        )
    )
    used |= set(
        visible_to_subject(Disclosure.objects.filter(subject=subject), subject).values_list(
            "purpose", flat=True
        )
    )
    entries = visible_to_subject(
        AuditEntry.objects.filter(subject=subject, action="vault.reveal"), subject
    )
    for payload in entries.values_list("payload", flat=True).iterator():
        purpose = json.loads(payload).get("data", {}).get("purpose")
        if isinstance(purpose, str):
            used.add(purpose)
    return used


def purposes_shown(subject: uuid.UUID, category: str, used: set[str] | None = None) -> list[str]:
    """The purposes to name for `category` in the person's own view, in policy order."""
    policy = current_policy()
    occasional_used = purposes_used(subject) if used is None else used
    return [
        key
        for key, p in policy.purposes.items()
        if category in p.categories and (not p.occasional or key in occasional_used)
    ]
