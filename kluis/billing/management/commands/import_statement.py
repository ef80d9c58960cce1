"""`manage.py import_statement FILE`: import a CAMT.053 bank statement (or a zip of them),
all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.billing.camt import StatementRefused
from kluis.billing.statements import statement_import


class Command(BaseCommand):
    help = (
        "Import a CAMT.053 statement (001.02, .03, .04 or .08), or a zip of them, "
        "and match its payments."
    )

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
            f"{result.already_imported} already imported, {result.not_credits} not credits, "
            f"{result.foreign_currency} in another currency, "
            f"{result.unsplit_batches} batch entries and {result.unallocated} payments "
            "naming several invoices left to finance"
        )
        if result.skipped_accounts:
            self.stdout.write(f"skipped, not our account: {', '.join(result.skipped_accounts)}")
