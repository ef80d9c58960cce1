"""Queries over thousands of values at once, for the bulk paths (statement import).

Django's `__in` prepares and checks each value one by one and costs a placeholder
each; these pass values already in their database form: PostgreSQL gets one array
parameter (`= ANY(%s)`), SQLite a plain IN list.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from django.db import connections, router
from django.db.models import (
    CharField,
    F,
    Field,
    ForeignKey,
    IntegerField,
    Lookup,
    Model,
    Q,
    UUIDField,
)

from kluis.vault.keys import uuid_array


class _AnyOf(Lookup):  # type: ignore[type-arg]
    """`field = ANY(%s)`: PostgreSQL takes thousands of values as one array parameter
    (an IN list costs a placeholder each, to build, quote and parse)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


class _AnyOfUUIDs(Lookup):  # type: ignore[type-arg]
    """`field = ANY(%s::uuid[])` with the array as one text parameter (uuid_array):
    psycopg dumps a list of UUIDs item by item in Python."""

    lookup_name = "any_of_uuids"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::uuid[])", [*lhs_params, self.rhs]


class _InList(Lookup):  # type: ignore[type-arg]
    """`field IN (%s, …)` of values already in their database form: Django's `__in`
    prepares and checks each of thousands of values one by one."""

    lookup_name = "in_list"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            return "1 = 0", []
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


def among(model: type[Model], name: str, values: Collection[Any]) -> Q:
    """The rows whose field `name` is one of `values` (a set or list)."""
    connection = connections[router.db_for_read(model)]
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    # A foreign key to a UUID (Reminder.invoice) is held as that UUID.
    target = field.target_field if isinstance(field, ForeignKey) else field
    if isinstance(target, UUIDField):
        if connection.vendor == "postgresql":
            return Q(_AnyOfUUIDs(F(name), uuid_array(target.to_python(v) for v in values)))
        if not connection.features.has_native_uuid_field:
            # As get_db_prep_value gives a UUID here (32 hex digits), without its
            # checks per value; anything else still goes through them.
            prepared = [
                v.hex if type(v) is uuid.UUID else field.get_db_prep_value(v, connection)
                for v in values
            ]
            return Q(_InList(F(name), prepared))
    if isinstance(field, (CharField, IntegerField)):
        prepared = list(values)  # already what the database holds
    else:
        prepared = [field.get_db_prep_value(v, connection) for v in values]
    if connection.vendor == "postgresql":
        return Q(_AnyOf(F(name), prepared))
    return Q(_InList(F(name), prepared))
