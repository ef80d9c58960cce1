from typing import Any

from django.core.management.base import BaseCommand

from kluis.web.services import policy_announce


class Command(BaseCommand):
    help = (
        "Queue one email per active customer saying that the privacy policy in force "
        "changed, with its change note and the link /privacy/. Safe to run again: a "
        "customer who was told about this version is not mailed twice."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(policy_announce()))
