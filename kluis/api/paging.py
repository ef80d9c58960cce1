"""Cursor pagination over a stable order of two columns, the second unique."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models
from django.utils.translation import gettext as _

from kluis.api.problems import Problem

M = TypeVar("M", bound=models.Model)
MAX_LIMIT = 100


def encode(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode(cursor: str) -> list[str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        data = None
    if not (isinstance(data, list) and len(data) == 2 and all(isinstance(v, str) for v in data)):
        raise Problem(
            "invalid", _("Deze cursor is ongeldig; gebruik next_cursor van de vorige pagina.")
        )
    return data


def page(
    queryset: models.QuerySet[M],
    *,
    first: str,
    second: str,
    descending: bool,
    cursor: str | None,
    limit: int,
    parse: Callable[[str], Any],
) -> tuple[list[M], str | None]:
    """One page of `queryset` ordered by (first, second), and the next page's cursor."""
    sign = "-" if descending else ""
    after = "lt" if descending else "gt"
    queryset = queryset.order_by(f"{sign}{first}", f"{sign}{second}")
    if cursor:
        a, b = decode(cursor)
        try:
            value = parse(a)
        except (ValueError, TypeError):
            raise Problem(
                "invalid", _("Deze cursor is ongeldig; gebruik next_cursor van de vorige pagina.")
            ) from None
        # (first, second) beyond the cursor, said as a range on `first` minus the rows
        # of its last value already sent: a form an index on (…, first, second) serves.
        before = "gte" if descending else "lte"
        queryset = queryset.filter(**{f"{first}__{after}e": value}).exclude(
            **{first: value, f"{second}__{before}": b}
        )
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode([_text(getattr(last, first)), str(getattr(last, second))])


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
