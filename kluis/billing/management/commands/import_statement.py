"""`manage.py import_statement FILE`: import a CAMT.053 bank statement, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.billing.camt import StatementRefused
from kluis.billing.statements import statement_import


class Command(BaseCommand):
    help = "Import a CAMT.053 statement (001.02, 001.04 or 001.08) and match its payments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            result = statement_import(path=path, imported_by=None)
        except StatementRefused as exc:
            raise CommandError(f"{path}: refused, nothing imported: {exc}") from None
        matches = ", ".join(f"{k} {v}" for k, v in sorted(result.matches.items())) or "-"
        self.stdout.write(
            f"{path.name}: {result.entries} entries, {result.new} new payments ({matches}), "
            f"{result.already_imported} already imported, {result.not_credits} not credits"
        )
