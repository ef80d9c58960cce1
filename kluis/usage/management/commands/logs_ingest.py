from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kluis.usage.ingest import Source, ingest_sources, parse_sources


class Command(BaseCommand):
    help = (
        "Read nginx and Postfix logs into usage statistics, from where the last run "
        "stopped (KLUIS_USAGE_LOGS, or the sources given)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "sources",
            nargs="*",
            help="kind[@host]:glob, e.g. nginx@shop.example.nl:/var/log/nginx/shop.log*",
        )
        parser.add_argument("--node", default=None, help="this node's name")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sources: list[Source] = parse_sources(
                " ".join(options["sources"]) or settings.KLUIS_USAGE_LOGS
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        if not sources:
            raise CommandError("no logs given and KLUIS_USAGE_LOGS is empty")
        node = options["node"] or settings.KLUIS_USAGE_NODE
        if options["no_progress"]:
            report = ingest_sources(sources, node=node)
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("lines"),
                TimeElapsedColumn(),
            )
            with Progress(*columns) as progress:

                def track(path: str, size: int) -> Callable[[int], None]:
                    task = progress.add_task(path, total=None)
                    return lambda n: progress.advance(task, n)

                report = ingest_sources(sources, node=node, progress=track)
        self.stdout.write(report.summary())
        for path, bad in sorted(report.bad_per_file.items()):
            self.stdout.write(f"  {path}: {bad} bad lines skipped")
