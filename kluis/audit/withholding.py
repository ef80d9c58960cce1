"""Matters a person may not be told of yet (a legal order under secrecy).

`withheld(w)` marks everything recorded inside it — audit entries, staff reveals,
disclosures — as belonging to the matter. The person's own views ask `visible_to_subject`
and leave those out while the matter holds; afterwards they appear with their original
dates. Staff views and the register's counts ignore it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import TypeVar

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from kluis.audit.models import Withholding

_current: contextvars.ContextVar[Withholding | None] = contextvars.ContextVar(
    "kluis_withholding", default=None
)

M = TypeVar("M", bound=models.Model)


@transaction.atomic
def withholding_start(
    *, subject: uuid.UUID, reason: str, reference: str, until: dt.date | None
) -> Withholding:
    return Withholding.objects.create(
        subject=subject,
        reason=reason,
        reference=reference,
        started_at=timezone.now(),
        until=until,
    )


@transaction.atomic
def withholding_lift(*, withholding: Withholding, by: str) -> None:
    if withholding.lifted_at is None:
        withholding.lifted_at = timezone.now()
        withholding.lifted_by = by
        withholding.save(update_fields=["lifted_at", "lifted_by"])


def holds(withholding: Withholding | None, today: dt.date | None = None) -> bool:
    if withholding is None or withholding.lifted_at is not None:
        return False
    return withholding.until is None or (today or timezone.localdate()) < withholding.until


@contextlib.contextmanager
def withheld(withholding: Withholding | None) -> Iterator[None]:
    """Everything recorded inside belongs to `withholding` (None: nothing changes)."""
    if withholding is None:
        yield
        return
    token = _current.set(withholding)
    try:
        yield
    finally:
        _current.reset(token)


def current_withholding_id() -> int | None:
    current = _current.get()
    return current.pk if current is not None else None


def _holding_q(today: dt.date) -> Q:
    return Q(lifted_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=today))


def holding_ids(subject: uuid.UUID, today: dt.date | None = None) -> set[int]:
    """The matters about `subject` that still hold."""
    day = today or timezone.localdate()
    return set(
        Withholding.objects.filter(_holding_q(day), subject=subject).values_list("pk", flat=True)
    )


def visible_to_subject(
    queryset: models.QuerySet[M], subject: uuid.UUID, today: dt.date | None = None
) -> models.QuerySet[M]:
    """`queryset` (of rows with a `withholding` column) without what still holds."""
    hidden = holding_ids(subject, today)
    return queryset.exclude(withholding__in=hidden) if hidden else queryset
