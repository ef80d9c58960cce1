"""Bulk reveals: many rows, few key look-ups, one audit entry."""

from __future__ import annotations

from collections.abc import Sequence

from kluis.policy.enforce import Actor, PolicyViolation, check_reveal
from kluis.policy.loader import current_policy
from kluis.vault import keys
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.fields import SealedField, SealedModel, decrypt


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
    policy = current_policy()
    label = model._meta.label_lower
    # Fields of one retention class share a key: one scope per row and class.
    classes = {f.retention or policy.categories[f.category].retention for f in sealed}
    per_year = any(policy.retention[c].per_fiscal_year for c in classes)
    with keys.key_scope():
        if per_year:
            scopes = [[f.scope_in(row, policy) for f in sealed] for row in rows]
        else:
            class_of = [f.retention or policy.categories[f.category].retention for f in sealed]
            scopes = []
            for subject in subjects:
                by_class = {c: keys.KeyScope(subject, c) for c in classes}
                scopes.append([by_class[c] for c in class_of])
        keys.prefetch({scope for row_scopes in scopes for scope in row_scopes})
        ciphers = keys.cached_ciphers()
        for row, row_scopes in zip(rows, scopes, strict=True):
            values: dict[str, str | None] = {}
            raw = row.__dict__
            prefix = f"{label}|{row.pk}|"
            for field, scope in zip(sealed, row_scopes, strict=True):
                token = raw.get(field.attname)
                cipher = ciphers.get(scope)
                if token is None or cipher is None:
                    values[field.name] = None
                elif isinstance(token, bytes | memoryview):
                    # aad_for(), spelled out: this loop runs once per value.
                    aad = f"{prefix}{field.name}|{scope.retention_class}|{scope.period}".encode()
                    try:
                        values[field.name] = decrypt(cipher, bytes(token), aad)
                    except KeyShredded:
                        values[field.name] = None
                else:
                    values[field.name] = getattr(row, field.name).open(scope)
            result.append(values)
    reveals.record_bulk_reveal(
        actor=actor, purpose=purpose, categories=categories, subjects=subjects
    )
    return result
