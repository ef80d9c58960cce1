"""The usage statistics' scheduled work: read the configured logs, close the days."""

import datetime as dt

from kluis.jobs.registry import job


@job("usage_logs_ingest", every=dt.timedelta(minutes=5), lease=dt.timedelta(minutes=30))
def usage_logs_ingest() -> str:
    from django.conf import settings

    from kluis.usage import store
    from kluis.usage.ingest import ingest_sources, parse_sources
    from kluis.usage.mailboxes import mailboxes_sync

    # Mailboxes of packages that ended stop counting before the logs are read.
    ended = mailboxes_sync()
    sources = parse_sources(settings.KLUIS_USAGE_LOGS)
    if not sources:
        return (
            f"usage: {ended} mailboxes ended, no logs configured, {store.days_close()} days closed"
        )
    return (
        f"usage: {ended} mailboxes ended; "
        + ingest_sources(sources, node=settings.KLUIS_USAGE_NODE).summary()
    )
