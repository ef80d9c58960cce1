import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kluis.audit.chain import audit_append
from kluis.audit.checkpoint import checkpoint_create


class Command(BaseCommand):
    help = "Export a signed (Ed25519) checkpoint of the audit chain head to a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("output", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        document = checkpoint_create()
        path: Path = options["output"]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(tmp, path)
        audit_append(
            action="audit.checkpoint",
            actor="system:cli",
            data={"seq": document["seq"], "hash": document["hash"]},
        )
        self.stdout.write(f"checkpoint of entry #{document['seq']} written to {path}")
