"""`manage.py shop_catalogue`: load the standard catalogue (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kluis.shop.catalogue import catalogue_load


class Command(BaseCommand):
    help = "Add the standard webshop/website packages and domain extensions that are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        products, extensions = catalogue_load()
        self.stdout.write(f"catalogue: {products} packages and {extensions} extensions added")
