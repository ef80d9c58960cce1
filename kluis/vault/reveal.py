"""Bulk reveals: many rows, few key look-ups, one audit entry."""

from __future__ import annotations

import contextlib
import gc
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

from cryptography.exceptions import InvalidTag

from kluis.policy.cases import Case, case_needed, check_case
from kluis.policy.enforce import Actor, PolicyViolation, check_reveal
from kluis.policy.loader import current_policy
from kluis.vault import keys
from kluis.vault.errors import RevealRefused
from kluis.vault.fields import NONCE_BYTES, TOKEN_VERSION, SealedField, SealedModel
from kluis.vault.guards import RevealAsk, refusals

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_END = 1 + NONCE_BYTES
_VERSION = TOKEN_VERSION[0]


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
    label = model._meta.label_lower
    # Fields of one retention class share a key: one scope per row and class.
    groups: dict[str, list[SealedField]] = {}
    for f in sealed:
        groups.setdefault(f.retention or policy.categories[f.category].retention, []).append(f)
    with keys.key_scope(), _cycle_collector_paused():
        columns = []
        for retention_class, group in groups.items():
            if policy.retention[retention_class].per_fiscal_year or model.vault_row_period:
                scopes = [
                    keys.KeyScope(subject, retention_class, row.vault_period(retention_class))
                    for row, subject in zip(rows, subjects, strict=True)
                ]
            else:
                by_subject = {s: keys.KeyScope(s, retention_class) for s in subjects}
                scopes = [by_subject[s] for s in subjects]
            names = [(f.attname, f.name, f"|{f.name}|{retention_class}|".encode()) for f in group]
            columns.append((scopes, names))
        keys.prefetch(scope for scopes, _ in columns for scope in scopes)
        ciphers = keys.cached_ciphers()
        result: list[dict[str, str | None]] = [{} for _ in rows]
        for scopes, names in columns:
            _open_column(rows, result, scopes, names, ciphers, label)
    reveals.record_bulk_reveal(
        actor=actor, purpose=purpose, categories=categories, subjects=subjects, case=case
    )
    return result


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a bulk read opens its values.

    Opening makes no reference cycles (every object it allocates is freed by reference
    counting or returned), but the tens of thousands of containers it allocates
    trigger the collector, and sooner or later a full pass over the whole process
    heap: on the benchmark, 80-100 ms of a 300 ms read. As bulk loaders do, it is
    paused for the duration and set back as it was, also on an error.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _open_column(
    rows: Sequence[SealedModel],
    result: list[dict[str, str | None]],
    scopes: list[keys.KeyScope],
    names: list[tuple[str, str, bytes]],
    ciphers: dict[keys.KeyScope, AESGCM | None],
    label: str,
) -> None:
    """Open one retention class's fields of every row into `result`.

    The hot loop of a bulk read: it runs once per value, so decrypt() and aad_for()
    are spelled out here, binding each value to its row, field and key scope alike.
    """
    for row, values, scope in zip(rows, result, scopes, strict=True):
        cipher = ciphers.get(scope)
        raw = row.__dict__
        prefix = f"{label}|{row.pk}".encode()
        period = scope.period.encode()
        for attname, name, suffix in names:
            token = raw.get(attname)
            if token is None or cipher is None:
                values[name] = None
                continue
            if type(token) is memoryview:
                token = bytes(token)
            elif type(token) is not bytes:
                values[name] = getattr(row, name).open(scope)
                continue
            if not token or token[0] != _VERSION:
                values[name] = None
                continue
            try:
                plain = cipher.decrypt(
                    token[1:_NONCE_END], token[_NONCE_END:], prefix + suffix + period
                )
            except InvalidTag:
                values[name] = None
            else:
                values[name] = plain.decode()


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
