"""Look through every table of every database, and the SQLite files, for strings."""

from __future__ import annotations

from pathlib import Path

from django.db import connections


def _shown(needle: bytes) -> str:
    return needle.decode() if needle.isascii() and needle.isalnum() else needle.hex()


def found_anywhere(needles: list[str] | list[bytes]) -> list[str]:
    """Where any of `needles` occurs: "database.table" or a file name; [] when nowhere."""
    hits = []
    wanted = [n if isinstance(n, bytes) else n.encode() for n in needles]
    for alias in connections:
        connection = connections[alias]
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
                for row in cursor.fetchall():
                    for cell in row:
                        raw = (
                            bytes(cell)
                            if isinstance(cell, (bytes, memoryview))
                            else str(cell).encode()
                        )
                        for needle in wanted:
                            if needle in raw:
                                hits.append(f"{alias}.{table}: {_shown(needle)}")
        if connection.vendor == "sqlite":
            name = Path(str(connection.settings_dict["NAME"]))
            for path in (name, name.with_name(name.name + "-wal")):
                if path.is_file():
                    data = path.read_bytes()
                    hits += [f"{path.name}: {_shown(n)}" for n in wanted if n in data]
    return hits
