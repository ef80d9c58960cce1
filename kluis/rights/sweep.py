"""The retention sweep (R41): shred every key whose rule has run out, then clear its rows.

Runs daily (`manage.py retention_sweep`, or `retention_sweep_run()` from the worker
schedule). For each retention class it walks the live keys of that class in primary
key order, a batch at a time, and asks the class's trigger when each key's clock
started (contract end, request closed, the key's own creation, its fiscal year).
For the keys past their date it first deletes or tombstones the rows they sealed
(the policy's action; one committed transaction per batch) and then shreds the keys
(one keystore transaction). An interruption at any point leaves either work undone,
which the next run finds again because the key is still live, or rows already gone
whose key the next run shreds: every step can be repeated. Memory stays flat: no
step holds more than one batch.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import models, transaction
from django.db.models.deletion import Collector
from django.utils import timezone
from rich.progress import Progress, TaskID

from kluis.audit.chain import audit_append
from kluis.policy.loader import current_policy
from kluis.policy.schema import Action, Policy, RetentionClass
from kluis.rights import retention
from kluis.vault import keys
from kluis.vault.fields import SealedField, SealedModel, period_in, sealed_fields
from kluis.vault.holdings import sealed_models
from kluis.vault.models import DataKey

ACTOR = "system:retention_sweep"


@dataclass
class SweepReport:
    keys_shredded: int = 0
    rows_deleted: int = 0
    rows_tombstoned: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Key:
    pk: int
    subject: uuid.UUID
    period: str
    until: dt.date


def _class_fields(retention_class: str) -> list[tuple[type[SealedModel], list[SealedField]]]:
    found = []
    for model in sealed_models():
        fields = [f for f in sealed_fields(model) if f.retention_class() == retention_class]
        if fields:
            found.append((model, fields))
    return found


def _plain_subject(model: type[SealedModel]) -> bool:
    return model.vault_subject_q.__func__ is SealedModel.vault_subject_q.__func__  # type: ignore[attr-defined]


def _batch_q(model: type[SealedModel], subjects: list[uuid.UUID]) -> models.Q | None:
    """The model's own subject query for one subject, widened to a list of them.

    `vault_subject_q(s)` is written for one subject; each lookup it makes on `s`
    becomes an `__in` lookup on all of them, so a batch costs one query, not one
    OR-branch per subject. Rows are checked against `vault_subject()` afterwards.
    """
    marker = uuid.uuid4()
    found = False

    def widen(q: models.Q) -> models.Q:
        nonlocal found
        out = models.Q()
        out.connector, out.negated = q.connector, q.negated
        for child in q.children:
            if isinstance(child, models.Q):
                out.children.append(widen(child))
            elif isinstance(child, tuple) and child[1] == marker:
                found = True
                out.children.append((f"{child[0]}__in", subjects))
            else:
                out.children.append(child)
        return out

    widened = widen(model.vault_subject_q(marker))
    return widened if found else None


def _rows_of(model: type[SealedModel], subjects: list[uuid.UUID]) -> Iterator[SealedModel]:
    """The rows of `subjects`, in one query where the subject query can be widened."""
    query = _batch_q(model, subjects)
    if query is not None:
        yield from model._default_manager.filter(query).distinct()
        return
    for start in range(0, len(subjects), 100):
        chunk = subjects[start : start + 100]
        yield from model._default_manager.filter(
            reduce(or_, (model.vault_subject_q(s) for s in chunk))
        ).distinct()


def _expired(
    rule: RetentionClass, batch: list[tuple[int, uuid.UUID, str, dt.datetime]], today: dt.date
) -> list[_Key]:
    moments = retention.scope_moments(rule.trigger, [(s, p) for _pk, s, p, _c in batch])
    expired = []
    for pk, subject, period, created_at in batch:
        until = retention.retention_until(
            rule, period=period, created_at=created_at, started=moments.get((subject, period))
        )
        if until is not None and until < today:
            expired.append(_Key(pk, subject, period, until))
    return expired


def _live_keys(
    retention_class: str, batch_size: int
) -> Iterator[list[tuple[int, uuid.UUID, str, dt.datetime]]]:
    last = 0
    while True:
        batch = list(
            DataKey.objects.filter(
                retention_class=retention_class, wrapped__isnull=False, pk__gt=last
            )
            .order_by("pk")
            .values_list("pk", "subject", "period", "created_at")[:batch_size]
        )
        if not batch:
            return
        yield batch
        last = batch[-1][0]


@dataclass
class _DryRun:
    """What a dry run would have done so far: later classes see rows as the real run would."""

    deleted: set[tuple[str, object]] = field(default_factory=set)
    cleared: dict[tuple[str, object], set[str]] = field(default_factory=dict)


def _simulate_delete(model: type[SealedModel], pks: list[object], dry_run: _DryRun) -> None:
    """Remember the rows a delete would remove, those its cascades take along included."""
    if not pks:
        return
    collector = Collector(using=model._default_manager.db)
    collector.collect(list(model._default_manager.filter(pk__in=pks)))
    for related, rows in collector.data.items():
        dry_run.deleted.update((related._meta.label_lower, row.pk) for row in rows)
    for query in collector.fast_deletes:
        label = query.model._meta.label_lower
        dry_run.deleted.update((label, pk) for pk in query.values_list("pk", flat=True))


def _clear_rows(
    retention_class: str,
    action: Action,
    expired: list[_Key],
    policy: Policy,
    dry_run: _DryRun | None,
) -> tuple[int, int]:
    """Delete (action delete) or tombstone (action shred) the rows the keys sealed.

    A dry run (`dry_run` given) counts the same rows as the real run: it remembers
    which rows it would have deleted and which columns it would have cleared, so a row
    met again for a later class is judged as the real run will find it.
    """
    wanted = {(k.subject, k.period) for k in expired}
    subjects = sorted({k.subject for k in expired})
    per_year = policy.retention[retention_class].per_fiscal_year
    deleted = tombstoned = 0
    for model, fields in _class_fields(retention_class):
        if (
            action is Action.SHRED
            and not per_year
            and not model.vault_row_period
            and _plain_subject(model)
        ):
            # A tombstone keeps the row and its (now unreadable) ciphertext; only the
            # blind indexes, which would still link the row to an address, are cleared.
            # One statement per batch, no rows loaded.
            rows = model._default_manager.filter(**{f"{model.vault_subject_field}__in": subjects})
            indexes = [f.blind_index.attname for f in fields if f.blind_index is not None]
            if dry_run is not None:
                label = model._meta.label_lower
                tombstoned += sum(
                    1
                    for pk in rows.values_list("pk", flat=True)
                    if (label, pk) not in dry_run.deleted
                )
            else:
                tombstoned += (
                    rows.update(**dict.fromkeys(indexes, None)) if indexes else rows.count()
                )
            continue
        to_delete: list[object] = []
        # Rows needing the same columns cleared share one UPDATE per batch.
        to_clear: dict[tuple[str, ...], list[object]] = {}
        others = [f for f in sealed_fields(model) if f not in fields]
        label = model._meta.label_lower
        for row in _rows_of(model, subjects):
            period = period_in(row, retention_class, policy)
            if (row.vault_subject(), period) not in wanted:
                continue
            gone: set[str] = set()
            if dry_run is not None:
                if (label, row.pk) in dry_run.deleted:
                    continue
                gone = dry_run.cleared.get((label, row.pk), set())

            def held(f: SealedField, gone: set[str] = gone, row: SealedModel = row) -> bool:
                return f.attname not in gone and row.__dict__.get(f.attname) is not None

            present = [f for f in fields if held(f)]
            keeps_other = any(held(f) for f in others)
            if action is Action.DELETE and not keeps_other:
                to_delete.append(row.pk)
                continue
            columns = [f.attname for f in present if action is Action.DELETE]
            columns += [f.blind_index.attname for f in present if f.blind_index is not None]
            to_clear.setdefault(tuple(sorted(columns)), []).append(row.pk)
            tombstoned += 1
        if dry_run is not None:
            _simulate_delete(model, to_delete, dry_run)
            for cleared, pks in to_clear.items():
                for pk in pks:
                    dry_run.cleared.setdefault((label, pk), set()).update(cleared)
        else:
            for cleared, pks in to_clear.items():
                if cleared:
                    model._default_manager.filter(pk__in=pks).update(**dict.fromkeys(cleared, None))
            if to_delete:
                model._default_manager.filter(pk__in=to_delete).delete()
        deleted += len(to_delete)
    return deleted, tombstoned


def retention_sweep_run(
    *,
    dry_run: bool = False,
    today: dt.date | None = None,
    batch_size: int = 1000,
    progress: bool = False,
    out: Callable[[str], None] | None = None,
) -> SweepReport:
    """One sweep over every retention class; safe to interrupt and run again."""
    policy = current_policy()
    today = today or timezone.localdate()
    report = SweepReport()
    simulated = _DryRun() if dry_run else None
    bar = _Bar(progress, policy)
    with bar:
        for retention_class, rule in policy.retention.items():
            bar.start(retention_class)
            _sweep_dated(policy, retention_class, rule, today, dry_run, report)
            for batch in _live_keys(retention_class, batch_size):
                bar.advance(len(batch))
                expired = _expired(rule, batch, today)
                if not expired:
                    continue
                report.per_class[retention_class] = report.per_class.get(retention_class, 0) + len(
                    expired
                )
                if dry_run:
                    deleted, tomb = _clear_rows(
                        retention_class, rule.action, expired, policy, simulated
                    )
                    report.rows_deleted += deleted
                    report.rows_tombstoned += tomb
                    for k in expired:
                        line = (
                            f"{retention_class}\t{k.subject}\t{k.period or '-'}\t"
                            f"expired {k.until.isoformat()}\t{rule.action.value}"
                        )
                        report.lines.append(line)
                        if out is not None:
                            out(line)
                    continue
                with transaction.atomic():
                    deleted, tomb = _clear_rows(retention_class, rule.action, expired, policy, None)
                    audit_append(
                        action="rights.retention_sweep",
                        actor=ACTOR,
                        data={
                            "class": retention_class,
                            "keys": len(expired),
                            "rows_deleted": deleted,
                            "rows_tombstoned": tomb,
                            "subjects_sha256": hashlib.sha256(
                                "\n".join(sorted(str(k.subject) for k in expired)).encode()
                            ).hexdigest(),
                        },
                    )
                # Rows first, keys second: a crash in between leaves live keys the next
                # run finds again, never rows it can no longer find.
                scopes = [keys.KeyScope(k.subject, retention_class, k.period) for k in expired]
                # In a fresh context: a key scope the caller has open would otherwise
                # remember every shredded scope, and memory would grow with the run.
                report.keys_shredded += contextvars.Context().run(keys.shred, scopes)
                report.rows_deleted += deleted
                report.rows_tombstoned += tomb
    return report


def _sweep_dated(
    policy: Policy,
    retention_class: str,
    rule: RetentionClass,
    today: dt.date,
    dry_run: bool,
    report: SweepReport,
) -> None:
    """Delete the aggregated rows of this class dated past its rule (no keys involved)."""
    holdings = retention.dated_holdings(policy, retention_class)
    if not holdings:
        return
    until = retention.last_expired_day(rule, today)
    for name, purge in holdings:
        with transaction.atomic():
            deleted = purge(until, dry_run)
            if deleted and not dry_run:
                audit_append(
                    action="rights.retention_sweep",
                    actor=ACTOR,
                    data={
                        "class": retention_class,
                        "dated": name,
                        "until": until.isoformat(),
                        "rows_deleted": deleted,
                    },
                )
        report.rows_deleted += deleted
        if deleted:
            report.per_class[retention_class] = report.per_class.get(retention_class, 0)
            line = (
                f"{retention_class}\t{name}\tdated on or before {until.isoformat()}\t{deleted} rows"
            )
            report.lines.append(line)


class _Bar:
    """A rich progress bar over the live keys, shown only when asked for."""

    def __init__(self, enabled: bool, policy: Policy) -> None:
        self.progress: Progress | None = Progress(transient=False) if enabled else None
        self.task: TaskID | None = None

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def start(self, retention_class: str) -> None:
        if self.progress is None:
            return
        total = DataKey.objects.filter(
            retention_class=retention_class, wrapped__isnull=False
        ).count()
        self.task = self.progress.add_task(retention_class, total=total)

    def advance(self, n: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, n)
