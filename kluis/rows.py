"""Plain multi-row INSERTs for batch writers that need no model instance per row.

Each value is prepared by its model field as the ORM's own insert prepares it, so the
stored values are the same as bulk_create's; the per-row model and compiler work is not
done. For ledgers and records a batch job writes by the thousand.

On PostgreSQL the rows go as one array per column (`INSERT … SELECT * FROM UNNEST(…)`,
as Django's own bulk_create does there), through a cursor that sends the parameters
apart from the statement (`bound_cursor`): a short statement of a few parameters
whatever the number of rows. Django's cursors bind on the client: psycopg then finds
and fills every placeholder of a 5,000-parameter statement in Python (too long for its
cache of parsed statements), or escapes every element of an array into the text,
which took longer than the database took to run the statement.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

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
    if not rows:
        return ids
    if connection.vendor == "postgresql":
        # One array per column; the new rows come back in the order of the arrays.
        assert all(len(row) == len(fields) for row in rows)
        arrays = [[prepared(i, field, row[i]) for row in rows] for i, field in enumerate(fields)]
        with bound_cursor(connection) as cursor:
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({names}) "  # noqa: S608
                f"SELECT * FROM {unnest(fields, connection)}{conflict} "
                f"RETURNING {quote(meta.pk.column)}",
                arrays,
            )
            return [int(r[0]) for r in cursor.fetchall()]
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


def unnest(fields: Sequence[object], connection: BaseDatabaseWrapper) -> str:
    """`UNNEST((%b)::type[], …)` for the columns of `fields` (model fields; PostgreSQL):
    one array parameter per column, each cast to its column's type without a length (so
    nothing is cut short before the column's own check). The arrays go in binary (`%b`,
    for a `bound_cursor`): in text psycopg escapes every element with a regex."""
    types = []
    for field in fields:
        assert isinstance(field, models.Field), field
        types.append(field.db_type(connection))
    assert all(types), "every column needs a database type"
    return "UNNEST(" + ", ".join(f"(%b)::{t.split('(')[0]}[]" for t in types if t) + ")"


@contextmanager
def bound_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A cursor of `connection` (PostgreSQL) that sends the parameters to the server
    apart from the statement, in the connection's transaction, wrapped as Django wraps
    its own (errors, query logging, execute wrappers). For statements of array
    parameters (`unnest`): Django's cursors quote each array element into the text."""
    import psycopg

    assert connection.vendor == "postgresql"
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw: Any = psycopg.Cursor(connection.connection)
    connection.validate_thread_sharing()
    cursor = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    try:
        yield cursor
    finally:
        cursor.close()
