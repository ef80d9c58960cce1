"""The shop's scheduled work: ask VIES again for orders that wait for it; the public
withdrawals for the worker."""

import datetime as dt

from kluis.jobs.registry import job, queue
from kluis.shop.models import Order
from kluis.shop.services import order_vies_recheck
from kluis.shop.withdrawal import withdrawal_requests_handle


@job("vies_retry", every=dt.timedelta(minutes=30), lease=dt.timedelta(minutes=20))
def vies_retry() -> str:
    done = {"valid": 0, "invalid": 0, "pending": 0}
    for order in Order.objects.filter(vat_status=Order.Vat.PENDING).select_related("customer"):
        after = order_vies_recheck(order=order)
        done[after.vat_status if after.vat_status in done else "pending"] += 1
    return (
        f"VIES: {done['valid']} valid, {done['invalid']} invalid, {done['pending']} still waiting"
    )


@job("held_orders_lapse", every=dt.timedelta(days=1))
def held_orders_lapse_job() -> str:
    from kluis.shop.services import held_orders_lapse

    return f"held orders: {held_orders_lapse()} cancelled after waiting for their owner"


@job("subprocessors_announce", every=dt.timedelta(days=1))
def subprocessors_announce_job() -> str:
    from kluis.shop.notices import subprocessors_announce

    done = subprocessors_announce()
    return f"sub-processors: {done.queued} notices queued"


@job("renewal_notices", every=dt.timedelta(days=1))
def renewal_notices_job() -> str:
    from kluis.shop.notices import renewal_notices_send

    return f"renewal notices: {renewal_notices_send()} due (each mailed once)"


@job("price_notices", every=dt.timedelta(days=1))
def price_notices_job() -> str:
    from kluis.shop.pricing import price_notices_send

    return f"price changes: {price_notices_send()} subscribers told (each once)"


@queue("withdrawal_requests")
def withdrawal_requests() -> int:
    """The withdrawals made on the public page, without a log-in."""
    return withdrawal_requests_handle()
