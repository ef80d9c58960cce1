"""`manage.py shop_vies_retry`: ask VIES again for every order that waits for it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kluis.shop.models import Order
from kluis.shop.services import order_vies_recheck


class Command(BaseCommand):
    help = "Re-check in VIES the VAT numbers of orders that wait because VIES was unavailable."

    def handle(self, *args: Any, **options: Any) -> None:
        done = {"valid": 0, "invalid": 0, "pending": 0}
        for order in Order.objects.filter(vat_status=Order.Vat.PENDING).select_related("customer"):
            after = order_vies_recheck(order=order)
            done[after.vat_status if after.vat_status in done else "pending"] += 1
        self.stdout.write(
            f"VIES: {done['valid']} valid, {done['invalid']} invalid, {done['pending']} still "
            f"waiting"
        )
