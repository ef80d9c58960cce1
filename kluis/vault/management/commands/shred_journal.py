from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.vault.journal import journal_path, journal_read
from kluis.vault.keys import KeyScope, shred
from kluis.vault.models import DataKey


def live_in_keystore(scopes: list[KeyScope]) -> list[KeyScope]:
    """The journalled scopes whose key is live in the keystore (a restored old copy)."""
    live = []
    by_class: dict[tuple[str, str], set[Any]] = {}
    for scope in scopes:
        by_class.setdefault((scope.retention_class, scope.period), set()).add(scope.subject)
    for (retention_class, period), subjects in by_class.items():
        ordered = sorted(subjects)
        for start in range(0, len(ordered), 5000):
            rows = DataKey.objects.filter(
                retention_class=retention_class,
                period=period,
                subject__in=ordered[start : start + 5000],
                wrapped__isnull=False,
            ).values_list("subject", flat=True)
            live += [KeyScope(s, retention_class, period) for s in rows]
    return live


class Command(BaseCommand):
    help = (
        "Check that every key in the shred journal is shredded in the keystore (exit 1 "
        "if not), or with --replay shred them again. Run before kluis serves."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--replay", action="store_true", help="shred the live ones again")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scopes = list(dict.fromkeys(journal_read()))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        live = live_in_keystore(scopes)
        if live and options["replay"]:
            count = shred(live, journal=False)
            self.stdout.write(f"shredded {count} journalled keys again")
            return
        if live:
            raise CommandError(
                f"{len(live)} of the {len(scopes)} keys in the shred journal {journal_path()} "
                "are live in the keystore (a restored older keystore?): run "
                "`manage.py shred_journal --replay` before kluis serves"
            )
        self.stdout.write(f"OK: all {len(scopes)} keys in the shred journal are shredded")
