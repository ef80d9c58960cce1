"""The worker's domain jobs."""

from __future__ import annotations

import datetime as dt

from kluis.jobs.registry import job


@job("domains_register", every=dt.timedelta(minutes=1), lease=dt.timedelta(minutes=15))
def domains_register() -> str:
    from kluis.domains.services import registrations_run

    return registrations_run()


@job("domains_poll", every=dt.timedelta(minutes=10), lease=dt.timedelta(minutes=15))
def domains_poll() -> str:
    from kluis.domains.services import poll_messages_run

    return poll_messages_run()


@job("domains_renew", every=dt.timedelta(minutes=5), lease=dt.timedelta(minutes=15))
def domains_renew() -> str:
    from kluis.domains.renewals import renewals_run

    return renewals_run()


@job("domains_contact_updates", every=dt.timedelta(minutes=5), lease=dt.timedelta(minutes=15))
def domains_contact_updates() -> str:
    from kluis.domains.follow import contact_updates_run

    return contact_updates_run()


@job("domains_contacts_cleanup", every=dt.timedelta(hours=1), lease=dt.timedelta(minutes=15))
def domains_contacts_cleanup() -> str:
    from kluis.domains.follow import contacts_cleanup_run

    return contacts_cleanup_run()


@job("domains_transfer", every=dt.timedelta(minutes=1), lease=dt.timedelta(minutes=15))
def domains_transfer() -> str:
    from kluis.domains.transfers import transfers_run

    return transfers_run()


@job("domains_expiry", every=dt.timedelta(hours=1), lease=dt.timedelta(minutes=15))
def domains_expiry() -> str:
    from kluis.domains.expiry import expiry_run
    from kluis.domains.late_payments import late_payments_run

    ended = expiry_run()
    return f"{ended}; {late_payments_run()} paid after the delete"
