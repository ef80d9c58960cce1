"""The sites' scheduled work: keep the firewall files equal to the allowlists."""

import datetime as dt

from kluis.jobs.registry import job, queue


# Every minute, so an entry or grant that expires leaves the files within a minute;
# a no-change export writes nothing.
@job("sites_firewall_export", every=dt.timedelta(minutes=1), lease=dt.timedelta(minutes=5))
def sites_firewall_export() -> str:
    from kluis.sites.firewall import firewall_export
    from kluis.sites.services import expired_entries_remove
    from kluis.sites.shop_link import sites_sync

    synced = sites_sync()
    outcome = firewall_export()
    expired = expired_entries_remove()  # after the export: they are out of it already
    return (
        f"sites: {synced} changed, {expired} expired entries deleted; "
        f"firewall: {outcome.sites} sites, {outcome.entries} "
        f"networks, {outcome.written} files written {outcome.reload}".strip()
    )


# The changes made in requests: each asks for an export, which the worker writes.
@queue("sites_firewall_export_requests")
def sites_firewall_export_requests() -> int:
    from kluis.sites.firewall import export_requests_handle

    return export_requests_handle()
