"""Bulk reveals: many rows, few key look-ups, one audit entry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, NoReturn

from cryptography.exceptions import InvalidTag

from kluis.gc_pause import cycle_collector_paused
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
    subjects = _subjects(rows)
    # Each person once, in the order of their first row: rows of one person mostly
    # share one UUID object, and hashing a UUID is a Python call, so the rows are
    # told apart by object first and only the few distinct objects by their value.
    by_object = {id(s): s for s in subjects}
    distinct = list(dict.fromkeys(by_object.values()))
    for category in categories:
        for subject in set(distinct) if actor.kind == "subject" else distinct[:1]:
            try:
                check_reveal(category=category, purpose=purpose, actor=actor, subject=subject)
            except PolicyViolation as exc:
                _refuse(actor, purpose, category, subject, exc, case)
    # A separate step: for a case-bound purpose, staff need an open case of each person.
    for subject in distinct if case_needed(purpose, actor) else ():
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
    for subject, reason in refusals(set(distinct), ask).items():
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
    pk_attname = model._meta.pk.attname
    # Fields of one retention class share a key: one scope per row and class.
    groups: dict[str, list[SealedField]] = {}
    for f in sealed:
        groups.setdefault(f.retention or policy.categories[f.category].retention, []).append(f)
    with keys.key_scope(), cycle_collector_paused():
        columns = []
        # Each distinct scope once (rows of one scope share the object): prefetch and
        # the cipher look-ups hash it once, not once per row.
        wanted: list[keys.KeyScope] = []
        for retention_class, group in groups.items():
            if policy.retention[retention_class].per_fiscal_year or model.vault_row_period:
                made: dict[tuple[int, str], keys.KeyScope] = {}
                scopes = []
                for row, subject in zip(rows, subjects, strict=True):
                    period = row.vault_period(retention_class)
                    scope = made.get((id(subject), period))
                    if scope is None:
                        scope = made[id(subject), period] = keys.KeyScope(
                            subject, retention_class, period
                        )
                    scopes.append(scope)
                wanted += made.values()
            else:
                # Per distinct value one scope; per distinct object, its value's scope.
                one = {s: keys.KeyScope(s, retention_class) for s in distinct}
                of = {key: one[s] for key, s in by_object.items()}
                scopes = [of[id(s)] for s in subjects]
                wanted += one.values()
            names = [(f.attname, f.name, f"|{f.name}|{retention_class}|".encode()) for f in group]
            columns.append((scopes, names))
        keys.prefetch(wanted)
        ciphers = keys.cached_ciphers()
        result: list[dict[str, str | None]] = [{} for _ in rows]
        for scopes, names in columns:
            _open_column(rows, result, scopes, names, ciphers, label, pk_attname)
    # Each person once, in the order of their first row: what dict.fromkeys over every
    # row's subject would record.
    reveals.record_bulk_reveal(
        actor=actor, purpose=purpose, categories=categories, subjects=distinct, case=case
    )
    return result


def _subjects(rows: Sequence[SealedModel]) -> list[uuid.UUID]:
    """Each row's vault subject. Rows of one model that keeps the subject in a column
    (SealedModel.vault_subject not overridden) are read without a call per row, and
    each distinct object checked once, as vault_subject checks it."""
    model = type(rows[0])
    if model.vault_subject is not SealedModel.vault_subject or set(map(type, rows)) != {model}:
        return [row.vault_subject() for row in rows]
    field = model.vault_subject_field
    # A field's value is in the instance when it was loaded: read it there.
    try:
        subjects = [row.__dict__[field] for row in rows]
    except KeyError:  # deferred in some row, or not a column: read as getattr reads it
        subjects = list(map(attrgetter(field), rows))
    for subject in {id(s): s for s in subjects}.values():
        assert isinstance(subject, uuid.UUID), f"{model.__name__} has no subject yet"
    return subjects


def _open_column(
    rows: Sequence[SealedModel],
    result: list[dict[str, str | None]],
    scopes: list[keys.KeyScope],
    names: list[tuple[str, str, bytes]],
    ciphers: dict[keys.KeyScope, AESGCM | None],
    label: str,
    pk_attname: str,
) -> None:
    """Open one retention class's fields of every row into `result`.

    The hot loop of a bulk read: it runs once per value, so decrypt() and aad_for()
    are spelled out here, binding each value to its row, field and key scope alike.
    A scope's cipher is looked up when the scope object changes from the row before
    (rows of one scope share the object), not hashed again for every row.
    """
    last: keys.KeyScope | None = None
    cipher: AESGCM | None = None
    period = b""
    for row, values, scope in zip(rows, result, scopes, strict=True):
        if scope is not last:
            cipher = ciphers.get(scope)
            period = scope.period.encode()
            last = scope
        raw = row.__dict__
        # row.pk is the column's value in the instance when it is there (read directly).
        pk = raw[pk_attname] if pk_attname in raw else row.pk  # noqa: SIM401 (lazy row.pk)
        prefix = f"{label}|{pk}".encode()
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
