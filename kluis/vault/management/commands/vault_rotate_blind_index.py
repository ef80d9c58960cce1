from typing import Any

from django.core.management.base import BaseCommand

from kluis.vault.blind import blind_index_rotate


class Command(BaseCommand):
    help = (
        "Move every blind index to a new key and delete the older keys, so that a "
        "database backup made before now no longer matches any address or name."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = blind_index_rotate()
        self.stdout.write(
            f"blind-index generation {done.generation}: {done.reindexed} values moved, "
            f"{done.cleared} cleared (data key shredded), {done.late} fixed after the "
            f"switch, {done.keys_deleted} old keys deleted"
        )
