from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.audit.chain import audit_verify
from kluis.audit.checkpoint import checkpoint_check, public_key_b64


class Command(BaseCommand):
    help = "Verify the audit hash chain; names the first bad entry."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint",
            type=Path,
            action="append",
            default=[],
            help="a signed checkpoint file the chain must still contain (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = audit_verify()
        if not verdict.ok:
            raise CommandError(
                f"audit chain BROKEN at entry #{verdict.first_bad_seq}: {verdict.problem}"
            )
        trusted = public_key_b64()
        for path in options["checkpoint"]:
            try:
                document = path.read_text()
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}") from None
            result = checkpoint_check(document, trusted_public_key=trusted)
            if not result.ok:
                raise CommandError(f"checkpoint {path}: {result.problem}")
        self.stdout.write(
            f"OK: {verdict.count} audit entries verified; head #{verdict.head_seq} "
            f"{verdict.head_hash[:16]}"
        )
