from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.vault.backup import BackupError, restore
from kluis.vault.blind import blind_index_rotate


class Command(BaseCommand):
    help = (
        "Restore a backup into empty databases, shred again every key in the shred "
        "journal files and in the restored main database's shred records, verify the "
        "audit chain against the newest witness checkpoint, then "
        "rotate the blind-index key so no erased person's address matches any more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--live-journal-lost",
            action="store_true",
            help="restore although the live shred journal is gone (shreds after the "
            "backup are then not re-applied)",
        )
        parser.add_argument(
            "--past-retention",
            action="store_true",
            help="restore although the backup is older than the privacy policy lets us "
            "keep backups (security.backups); the shred journal is still replayed",
        )
        parser.add_argument(
            "--no-witness",
            action="store_true",
            help="verify the chain on its own (the witness checkpoints are not at hand)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = restore(
                options["directory"],
                live_journal_lost=options["live_journal_lost"],
                past_retention_ok=options["past_retention"],
            )
        except (BackupError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"restored the backup of {result.manifest['taken_at']}; "
            f"{result.journal_entries} keys in the shred journal and the shred records "
            f"({result.recorded_only} named by the restored main database alone), "
            f"{result.reshredded} of them live in the restored keystore and shredded again; "
            f"{result.taken_over} recorded in the main database from the journal files"
        )
        try:
            call_command("audit_verify", no_witness=options["no_witness"], stdout=self.stdout)
        except CommandError as exc:
            raise CommandError(
                f"restored, but the audit chain does not verify: {exc}. A chain shorter "
                "than the newest witness checkpoint means entries after the backup are lost."
            ) from None
        finally:
            # The restored rows still carry the blind-index values of people erased
            # after the backup, under the restored key: a lookup by address would find
            # them. A rotation recomputes every value from its sealed source (a value
            # whose key the journal shredded gets none) and deletes the old key.
            # After the chain check, so that the check sees the chain as restored.
            done = blind_index_rotate()
            self.stdout.write(
                f"blind indexes moved to generation {done.generation}: "
                f"{done.reindexed} values recomputed, {done.cleared} cleared"
            )
