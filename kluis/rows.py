"""Plain multi-row INSERTs for batch writers that need no model instance per row.

Each value is prepared by its model field as the ORM's own insert prepares it, so the
stored values are the same as bulk_create's; the per-row model and compiler work is not
done. For ledgers and records a batch job writes by the thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models

# Rows per statement: ten columns make 5,000 parameters, well within SQLite's 32,766
# and PostgreSQL's 65,535.
ROWS_PER_INSERT = 500

# Fields whose value goes to the database as it is (text and integers).
_AS_IS = (models.CharField, models.TextField, models.IntegerField)


def rows_insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_conflicts: Sequence[str] = (),
) -> list[int]:
    """Insert `rows` (values in the order of `columns`, attribute names such as
    `customer_id`) into `model`'s table; the new rows' ids, in the order of `rows`.

    With `skip_conflicts` (the columns of a unique constraint), a row that would break it
    is left out (ON CONFLICT DO NOTHING) and no id is returned for it.
    """
    connection = connections[model._default_manager.db]
    meta = model._meta
    fields = [next(f for f in meta.concrete_fields if f.attname == c) for c in columns]
    memo: dict[tuple[int, Any], Any] = {}

    def prepared(i: int, field: models.Field[Any, Any], value: Any) -> Any:
        if value is None or (isinstance(field, _AS_IS) and isinstance(value, str | int)):
            return value
        # A batch often repeats one time or one subject: prepared once.
        key = (i, value)
        try:
            return memo[key]
        except KeyError:
            memo[key] = field.get_db_prep_save(value, connection)
            return memo[key]
        except TypeError:  # not hashable
            return field.get_db_prep_save(value, connection)

    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    conflict = ""
    if skip_conflicts:
        conflict = f" ON CONFLICT ({', '.join(quote(c) for c in skip_conflicts)}) DO NOTHING"
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            params = [
                prepared(i, field, value)
                for row in chunk
                for i, (field, value) in enumerate(zip(fields, row, strict=True))
            ]
            # Names from the model's meta; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({names}) "  # noqa: S608
                f"VALUES {', '.join([marks] * len(chunk))}{conflict} "
                f"RETURNING {quote(meta.pk.column)}",
                params,
            )
            ids += [int(r[0]) for r in cursor.fetchall()]
    return ids
