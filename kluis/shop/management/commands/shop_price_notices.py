"""`manage.py shop_price_notices`: what the daily job does, now (safe to run again)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kluis.shop.pricing import price_notices_send


class Command(BaseCommand):
    help = (
        "Write price changes that took effect into the catalogue, and mail every subscriber "
        "a price change reaches who was not told yet (each once)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"price notices: {price_notices_send()} queued")
