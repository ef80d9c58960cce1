import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kluis.audit.chain import audit_append
from kluis.policy.loader import current_policy
from kluis.vault.keys import KeyScope, shred


class Command(BaseCommand):
    help = "Shred a data subject's key for one retention class (and fiscal year)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("subject", type=str)
        parser.add_argument("retention_class", type=str)
        parser.add_argument("--period", default="", help="the fiscal year, for per-year classes")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            subject = uuid.UUID(options["subject"])
        except ValueError:
            raise CommandError(f"{options['subject']!r} is not a subject id (a UUID)") from None
        retention = current_policy().retention.get(options["retention_class"])
        if retention is None:
            raise CommandError(f"no retention class {options['retention_class']!r} in the policy")
        if retention.per_fiscal_year and not options["period"]:
            raise CommandError(
                f"{options['retention_class']} is kept per fiscal year: give --period"
            )
        scope = KeyScope(subject, options["retention_class"], options["period"])
        count = shred([scope])
        if count == 0:
            raise CommandError(f"no live key for {scope.retention_class} of {subject}")
        audit_append(
            action="vault.shred",
            actor="system:cli",
            subject=subject,
            data={"retention_class": scope.retention_class, "period": scope.period},
        )
        self.stdout.write(f"shredded the {scope.retention_class} key of {subject}")
