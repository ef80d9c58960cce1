"""Disclosures: personal data that leaves kluis, checked against the policy."""

from __future__ import annotations

import uuid

from django.db import transaction

from kluis.audit.chain import audit_append
from kluis.audit.models import Disclosure
from kluis.policy.enforce import Actor, check_disclosure
from kluis.policy.loader import current_policy


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
    check_disclosure(recipient=recipient, purpose=purpose, categories=categories)
    declared = current_policy().recipients[recipient]
    if declared.requires in ("consent", "legal_order") and not reference:
        raise ValueError(f"a disclosure to {recipient} must name its {declared.requires}")
    legal_basis = current_policy().purposes[purpose].legal_basis.value
    entry = audit_append(
        action="disclosure",
        actor=actor.ref,
        subject=subject,
        data={
            "recipient": recipient,
            "purpose": purpose,
            "categories": sorted(categories),
            "legal_basis": legal_basis,
            "reference": reference,
        },
    )
    return Disclosure.objects.create(
        subject=subject,
        at=entry.at,
        recipient=recipient,
        purpose=purpose,
        categories=sorted(categories),
        legal_basis=legal_basis,
        reference=reference,
        actor=actor.ref,
        audit_seq=entry.seq,
        withholding_id=entry.withholding_id,
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
