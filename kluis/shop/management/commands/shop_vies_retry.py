"""`manage.py shop_vies_retry`: ask VIES again for every order that waits for it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kluis.shop.jobs import vies_retry


class Command(BaseCommand):
    help = "Re-check in VIES the VAT numbers of orders that wait because VIES was unavailable."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(vies_retry())
