from typing import Any

from django.core.management.base import BaseCommand

from kluis.sites.firewall import firewall_export


class Command(BaseCommand):
    help = "Write the sites' admin allowlists as an nftables ruleset and nginx includes."

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = firewall_export()
        self.stdout.write(
            f"{outcome.sites} sites, {outcome.entries} networks, "
            f"{outcome.written} files written {outcome.reload}".rstrip()
        )
        if not outcome.ok:
            raise SystemExit(1)
