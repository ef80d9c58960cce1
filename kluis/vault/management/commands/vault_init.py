import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from kluis.vault.master import generate_key_file, master_ring


class Command(BaseCommand):
    help = "Create the master key file (mode 0600) if there is none, and check it opens."

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.KLUIS_MASTER_KEY_FILE)
        if not path.exists() and not os.environ.get("KLUIS_MASTER_KEY"):
            generate_key_file(path)
            self.stdout.write(f"created master key file {path} (mode 0600); back it up apart")
        ring = master_ring()
        self.stdout.write(f"master key {ring.current} in use")
