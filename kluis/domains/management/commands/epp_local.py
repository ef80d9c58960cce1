"""Run the local EPP registry that `make run` and development register domains at."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.domains.epp_local import Faults, make_server


class Command(BaseCommand):
    help = (
        "Serve the local EPP registry (TLS on 127.0.0.1, every TLD kluis sells) on "
        "KLUIS_EPP_LOCAL_PORT; its certificate goes to KLUIS_EPP_CAFILE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--slow", type=float, default=0.0, help="seconds before each answer")
        parser.add_argument("--error-on", type=int, default=0, help="answer 2400 to command N")
        parser.add_argument("--drop-after", default="", help="drop the connection after CMD")
        parser.add_argument(
            "--transfer-approve-after",
            type=float,
            default=5 * 24 * 3600.0,
            help="seconds after which a transfer no registrar answered is approved",
        )
        parser.add_argument(
            "--held-elsewhere",
            action="append",
            default=[],
            metavar="NAME:CODE",
            help="a domain another registrar holds with this auth code (a transfer to try)",
        )
        parser.add_argument(
            "--memory", action="store_true", help="keep the registry in memory only (benchmarks)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.KLUIS_EPP_CAFILE:
            raise CommandError("KLUIS_EPP_CAFILE is empty: the local registry is for development.")
        cert_dir = Path(settings.KLUIS_EPP_CAFILE).parent
        port = options["port"] or settings.KLUIS_EPP_LOCAL_PORT
        server = make_server(
            cert_dir=cert_dir,
            password=settings.KLUIS_EPP_LOCAL_PASSWORD,
            port=port,
            store=None if options["memory"] else cert_dir / "registry.json",
        )
        server.registry.faults = Faults(
            slow_seconds=options["slow"],
            error_on_nth=options["error_on"],
            drop_after=options["drop_after"],
        )
        server.registry.transfer_auto_approve = dt.timedelta(
            seconds=options["transfer_approve_after"]
        )
        for pair in options["held_elsewhere"]:
            name, _, code = pair.partition(":")
            if not name or not code:
                raise CommandError(f"--held-elsewhere wants NAME:CODE, not {pair!r}")
            server.registry.held_elsewhere(name.lower(), code)
        self.stdout.write(f"local EPP registry on 127.0.0.1:{server.port} (certificate {cert_dir})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
