"""Bulk reveals: many rows, few key look-ups, one audit entry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NoReturn

from kluis.policy.cases import Case, case_needed, check_case
from kluis.policy.enforce import Actor, PolicyViolation, check_reveal
from kluis.policy.loader import current_policy
from kluis.vault import keys
from kluis.vault.errors import KeyShredded, RevealRefused
from kluis.vault.fields import SealedField, SealedModel, decrypt
from kluis.vault.guards import RevealAsk, refusals

Plan = list[tuple[keys.KeyScope, list[SealedField]]]


def reveal_many(
    rows: Sequence[SealedModel],
    fields: Sequence[str],
    *,
    purpose: str,
    actor: Actor,
    case: Case | None = None,
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
                _refuse(actor, purpose, category, subject, exc, case)
    # A separate step: for a case-bound purpose, staff need an open case of each person.
    for subject in dict.fromkeys(subjects) if case_needed(purpose, actor) else ():
        try:
            check_case(purpose=purpose, actor=actor, subject=subject, case=case)
        except PolicyViolation as exc:
            _refuse(actor, purpose, categories[0], subject, exc, case)
    policy = current_policy()
    # Limits that depend on each person (kluis.vault.guards), checked for every one.
    ask = RevealAsk(
        frozenset(
            (f.category, f.retention or policy.categories[f.category].retention) for f in sealed
        ),
        purpose,
        actor,
    )
    for subject, reason in refusals(set(subjects), ask).items():
        reveals.record_refusal(
            actor=actor,
            purpose=purpose,
            category=categories[0],
            subject=subject,
            reason=reason,
            case=case,
        )
        raise RevealRefused(reason)
    result: list[dict[str, str | None]] = []
    label = model._meta.label_lower
    # Fields of one retention class share a key: one scope per row and class.
    groups: dict[str, list[SealedField]] = {}
    for f in sealed:
        groups.setdefault(f.retention or policy.categories[f.category].retention, []).append(f)
    plan_groups = [(c, policy.retention[c].per_fiscal_year, fs) for c, fs in groups.items()]
    per_row = any(per_year for _c, per_year, _fs in plan_groups)
    with keys.key_scope():
        if per_row:
            plans = [
                [
                    (keys.KeyScope(subject, c, row.vault_period(c) if per_year else ""), fs)
                    for c, per_year, fs in plan_groups
                ]
                for row, subject in zip(rows, subjects, strict=True)
            ]
        else:
            # No class kept per fiscal year: a row's scopes are its subject's, made once
            # per subject (a bulk reveal of 50,000 rows often has a hundred subjects).
            by_subject: dict[uuid.UUID, list[tuple[keys.KeyScope, list[SealedField]]]] = {}
            for subject in subjects:
                if subject not in by_subject:
                    by_subject[subject] = [
                        (keys.KeyScope(subject, c), fs) for c, _p, fs in plan_groups
                    ]
            plans = [by_subject[subject] for subject in subjects]
        keys.prefetch({scope for plan in _distinct(plans) for scope, _ in plan})
        ciphers = keys.cached_ciphers()
        for row, plan in zip(rows, plans, strict=True):
            values: dict[str, str | None] = {}
            raw = row.__dict__
            prefix = f"{label}|{row.pk}|"
            for scope, group in plan:
                cipher = ciphers.get(scope)
                suffix = f"|{scope.retention_class}|{scope.period}"
                for field in group:
                    token = raw.get(field.attname)
                    if token is None or cipher is None:
                        values[field.name] = None
                    elif isinstance(token, bytes | memoryview):
                        # aad_for(), spelled out: this loop runs once per value.
                        aad = f"{prefix}{field.name}{suffix}".encode()
                        try:
                            values[field.name] = decrypt(cipher, bytes(token), aad)
                        except KeyShredded:
                            values[field.name] = None
                    else:
                        values[field.name] = getattr(row, field.name).open(scope)
            result.append(values)
    reveals.record_bulk_reveal(
        actor=actor, purpose=purpose, categories=categories, subjects=subjects, case=case
    )
    return result


def _distinct(plans: list[Plan]) -> list[Plan]:
    """Each plan once (rows of one subject share theirs when no class is per year)."""
    return list({id(plan): plan for plan in plans}.values())


def _refuse(
    actor: Actor,
    purpose: str,
    category: str,
    subject: uuid.UUID,
    exc: PolicyViolation,
    case: Case | None,
) -> NoReturn:
    from kluis.audit import reveals

    reveals.record_refusal(
        actor=actor, purpose=purpose, category=category, subject=subject, reason=str(exc), case=case
    )
    raise RevealRefused(str(exc)) from None
