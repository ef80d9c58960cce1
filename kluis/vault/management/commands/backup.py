from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.vault.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Back up the keystore, the shred journal and the main database into a new "
        "directory, with a manifest (hashes, audit head, time). The master key is not included."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = backup(options["directory"])
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from None
        head = manifest["audit_head"]
        self.stdout.write(
            f"backup in {options['directory']}: {', '.join(sorted(manifest['files']))}; "
            f"audit head #{head['seq']}"
        )
