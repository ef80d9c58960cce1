import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kluis.audit.chain import audit_append
from kluis.vault.master import master_ring, reset_master_ring
from kluis.vault.rotation import rewrap_all, rotate_key_file


class Command(BaseCommand):
    help = (
        "Rotate the master key: re-wrap every data key under a new master key. With "
        "KLUIS_MASTER_KEY from the environment, put the new key first in the variable "
        "(comma-separated, old ones after it) and run with --rewrap-only."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--rewrap-only",
            action="store_true",
            help="only re-wrap keys under the current master key (finish a rotation)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ring = master_ring()
        old = ring.current
        if options["rewrap_only"]:
            moved = rewrap_all(ring)
        elif os.environ.get("KLUIS_MASTER_KEY"):
            raise CommandError(
                "the master key comes from KLUIS_MASTER_KEY: set the new key first in it "
                "and run with --rewrap-only"
            )
        else:
            ring, moved = rotate_key_file(Path(settings.KLUIS_MASTER_KEY_FILE), ring)
            reset_master_ring()
        audit_append(
            action="vault.master_rotated",
            actor="system:cli",
            data={"from": old, "to": ring.current, "rewrapped": moved},
        )
        self.stdout.write(f"master key {ring.current} now wraps all keys ({moved} re-wrapped)")
