"""Export the policy as a Fides taxonomy and system (YAML), validated with fideslang."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kluis.policy.fides import fides_yaml
from kluis.policy.loader import current_policy


class Command(BaseCommand):
    help = "Export the privacy policy in Fides form (custom data categories and the kluis system)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
        parser.add_argument("--language", choices=["nl", "en"], default="en")

    def handle(self, *args: Any, output: Path | None, language: str, **options: Any) -> None:
        text = fides_yaml(current_policy(), language)
        if output is None:
            self.stdout.write(text, ending="")
        else:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
