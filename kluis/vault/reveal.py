"""Bulk reveals: many rows, few key look-ups, one audit entry."""

from __future__ import annotations

from collections.abc import Sequence

from kluis.policy.enforce import Actor, PolicyViolation, check_reveal
from kluis.vault import keys
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.fields import SealedField, SealedModel, SealedValue


def reveal_many(
    rows: Sequence[SealedModel], fields: Sequence[str], *, purpose: str, actor: Actor
) -> list[dict[str, str | None]]:
    """Plain values of `fields` for each row; a shredded value reads as None."""
    from kluis.audit import reveals

    if not rows:
        return []
    model = type(rows[0])
    sealed: list[SealedField] = []
    for name in fields:
        field = model._meta.get_field(name)
        assert isinstance(field, SealedField), f"{name} is not a sealed field"
        sealed.append(field)
    categories = sorted({f.category for f in sealed})
    subjects = [row.vault_subject() for row in rows]
    for category in categories:
        for subject in set(subjects) if actor.kind == "subject" else subjects[:1]:
            try:
                check_reveal(category=category, purpose=purpose, actor=actor, subject=subject)
            except PolicyViolation as exc:
                reveals.record_refusal(
                    actor=actor,
                    purpose=purpose,
                    category=category,
                    subject=subject,
                    reason=str(exc),
                )
                raise RevealRefused(str(exc)) from None
    result: list[dict[str, str | None]] = []
    with keys.key_scope():
        keys.prefetch(f.scope_for(row) for row in rows for f in sealed)
        for row in rows:
            values: dict[str, str | None] = {}
            for name in fields:
                value = getattr(row, name)
                if value is None:
                    values[name] = None
                    continue
                assert isinstance(value, SealedValue)
                try:
                    values[name] = value.open()
                except KeyShredded:
                    values[name] = None
            result.append(values)
    reveals.record_bulk_reveal(
        actor=actor, purpose=purpose, categories=categories, subjects=subjects
    )
    return result
