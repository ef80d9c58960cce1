"""`manage.py retention_sweep [--dry-run]`: the daily retention sweep (R41)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kluis.rights.sweep import retention_sweep_run
from kluis.vault.keys import key_scope


class Command(BaseCommand):
    help = "Shred the keys whose retention has run out, and delete or tombstone their rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print what would go")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--progress",
            action="store_true",
            help="show a progress bar (the default on a terminal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        with key_scope():
            report = retention_sweep_run(
                dry_run=dry_run,
                batch_size=options["batch_size"],
                progress=options["progress"] or sys.stderr.isatty(),
                out=self.stdout.write if dry_run else None,
            )
        verb = "would shred" if dry_run else "shredded"
        for retention_class, count in sorted(report.per_class.items()):
            self.stdout.write(f"{retention_class}: {verb} {count} key(s)")
        self.stdout.write(
            f"{verb} {sum(report.per_class.values())} key(s); rows "
            f"{'to delete' if dry_run else 'deleted'}: {report.rows_deleted}, "
            f"{'to tombstone' if dry_run else 'tombstoned'}: {report.rows_tombstoned}"
        )
