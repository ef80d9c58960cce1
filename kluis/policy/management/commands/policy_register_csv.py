"""Write the art. 30 record of processing (one row per purpose) as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kluis.policy.loader import current_policy
from kluis.policy.register import build_register, register_csv


class Command(BaseCommand):
    help = "Write the GDPR art. 30 record of processing, generated from the policy, as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
        parser.add_argument("--language", choices=["nl", "en"], default="nl")

    def handle(self, *args: Any, output: Path | None, language: str, **options: Any) -> None:
        text = register_csv(build_register(current_policy(), language))
        if output is None:
            self.stdout.write(text, ending="")
        else:
            output.write_text(text, encoding="utf-8", newline="")
            self.stderr.write(f"Wrote {output}")
