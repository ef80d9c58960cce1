"""Run the local payment service provider that speaks Mollie's Payments API."""

from __future__ import annotations

import urllib.parse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.billing.mollie_local import make_server


class Command(BaseCommand):
    help = (
        "Serve the local payment provider (Mollie's Payments API, with a hosted iDEAL "
        "checkout) on KLUIS_MOLLIE_API_URL, for the demo and for development."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        url = urllib.parse.urlsplit(settings.KLUIS_MOLLIE_API_URL)
        if url.hostname not in ("127.0.0.1", "localhost"):
            raise CommandError(
                f"KLUIS_MOLLIE_API_URL is {settings.KLUIS_MOLLIE_API_URL}: the local provider "
                "only serves on 127.0.0.1."
            )
        if not settings.KLUIS_MOLLIE_API_KEY.startswith("test_"):
            raise CommandError("The local provider takes only a test_ key (KLUIS_MOLLIE_API_KEY).")
        port = options["port"] or url.port or 80
        server, state = make_server(api_key=settings.KLUIS_MOLLIE_API_KEY, port=port)
        self.stdout.write(f"local payment provider (Mollie API) on {state.base_url}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
