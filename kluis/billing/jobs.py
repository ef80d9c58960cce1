"""Billing's scheduled work: renewal invoices for the subscriptions that run on, and
the reminders and statutory letters of unpaid invoices, refunds through the payment
provider, and the check of its payouts."""

from __future__ import annotations

import datetime as dt

from kluis.billing.dunning import dunning_run
from kluis.billing.renewals import renewals_run
from kluis.jobs.registry import job


@job("billing_renewals", every=dt.timedelta(days=1))
def billing_renewals() -> str:
    run = renewals_run()
    return (
        f"renewals: {run.invoices} invoices for {run.periods} periods, "
        f"{run.failed} customers failed"
    )


@job("billing_dunning", every=dt.timedelta(days=1))
def billing_dunning() -> str:
    return f"reminders: {dunning_run()}"


@job("billing_provider_refunds", every=dt.timedelta(minutes=30))
def billing_provider_refunds() -> str:
    from kluis.billing.online import provider_refunds_send

    return f"refunds sent through the payment provider: {provider_refunds_send()}"


@job("billing_payout_checks", every=dt.timedelta(minutes=30))
def billing_payout_checks() -> str:
    from kluis.billing.payouts import payout_checks_run

    outcome = payout_checks_run()
    return "payouts checked: " + (
        ", ".join(f"{count} {status}" for status, count in sorted(outcome.items())) or "none"
    )
