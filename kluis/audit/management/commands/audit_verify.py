from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.audit.checkpoint import checkpoint_check, public_key_b64
from kluis.audit.witness import witness_check, witness_dir


class Command(BaseCommand):
    help = (
        "Verify the audit hash chain and check it against the newest witness checkpoint; "
        "names the first bad entry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint",
            type=Path,
            action="append",
            default=[],
            help="a signed checkpoint file the chain must still contain (repeatable)",
        )
        parser.add_argument(
            "--no-witness",
            action="store_true",
            help="check the chain on its own, not against the witness directory",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = witness_check(witness=not options["no_witness"])
        if not verdict.ok:
            raise CommandError(verdict.problem)
        trusted = public_key_b64()
        for path in options["checkpoint"]:
            try:
                document = path.read_text()
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}") from None
            result = checkpoint_check(document, trusted_public_key=trusted)
            if not result.ok:
                raise CommandError(f"checkpoint {path}: {result.problem}")
        assert verdict.chain is not None
        self.stdout.write(
            f"OK: {verdict.chain.count} audit entries verified; head #{verdict.chain.head_seq} "
            f"{verdict.chain.head_hash[:16]}"
        )
        if options["no_witness"]:
            return
        if verdict.checkpoint is None:
            self.stdout.write(
                f"no witness checkpoint in {witness_dir()}: all {verdict.unwitnessed} entries "
                "could be rewritten undetected"
            )
        else:
            minutes = int(verdict.since.total_seconds() // 60) if verdict.since else 0
            self.stdout.write(
                f"witness {verdict.checkpoint.path.name} holds; the {verdict.unwitnessed} "
                f"entries after it (the last {minutes} min) are not yet witnessed"
            )
