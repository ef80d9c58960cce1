from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kluis.vault.journal import journal_path, journal_read, recorded_scopes, records_verify
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
        "Check that every key in the shred journal file and in the main database's shred "
        "records is shredded in the keystore, and that the records match their audit "
        "entries (exit 1 if not), or with --replay shred them again. Run before kluis serves."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--replay", action="store_true", help="shred the live ones again")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            in_file = list(dict.fromkeys(journal_read()))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        recorded = list(dict.fromkeys(recorded_scopes()))
        scopes = list(dict.fromkeys([*in_file, *recorded]))
        problems = records_verify()
        if problems:
            raise CommandError(
                "the shred records in the main database do not match the audit chain: "
                + "; ".join(problems[:5])
            )
        live = live_in_keystore(scopes)
        if live and options["replay"]:
            count = shred(live, journal=False)
            self.stdout.write(f"shredded {count} journalled keys again")
            return
        if live:
            raise CommandError(
                f"{len(live)} of the {len(scopes)} keys in the shred journal {journal_path()} "
                "and the shred records are live in the keystore (a restored older keystore?): "
                "run `manage.py shred_journal --replay` before kluis serves"
            )
        only_recorded = len(set(recorded) - set(in_file))
        self.stdout.write(
            f"OK: all {len(scopes)} keys in the shred journal and the shred records are "
            f"shredded ({only_recorded} named by the shred records alone)"
        )
