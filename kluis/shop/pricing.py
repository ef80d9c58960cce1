"""Prices over time: what a new customer pays on a day, and what a subscription's period costs.

Agreement 2.0, art. 4 (for consumers and businesses alike): a new price applies only to
a following period, is announced by mail at least one month before it applies, and a
subscriber who does not accept a rise may end the subscription, without costs, to the
day the new price would apply. How kluis keeps that promise:

- A price change (PriceChange) is scheduled by staff with the day it takes effect. From
  that day new customers see and pay it in the shop (catalogue_price_cents), whether or
  not the daily job has written it into the item yet.
- A subscription pays the price of its order line, until a change reaches it: a rise
  only from the first period that starts on or after both the effective day and one
  month after this subscriber was mailed (PriceNotice, written with the mail). No mail,
  no rise: a subscriber without an address that can be mailed keeps the old price.
- A decrease needs no notice and applies from the first period that starts on or after
  its effective day. Art. 4's month of notice protects the subscriber against paying
  more without time to leave; a lower price takes nothing from them, and art. 6:236
  sub i and 6:237 BW concern rises only. The subscriber is still told, by the same mail.
- A subscriber who ends after being told of a rise, before it applies, ends on the day
  before it applies (subscription_end_date in services.py); a period at the new price
  that was already invoiced is credited. For a rise within three months of the contract
  (art. 6:236 sub i BW) that is the right to dissolve the agreement promises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from kluis.accounts.models import User
from kluis.audit.chain import audit_append
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.shop import emails
from kluis.shop.models import (
    DomainExtension,
    Period,
    PriceChange,
    PriceNotice,
    Product,
    Subscription,
    period_after,
)
from kluis.vault.errors import KeyShredded

MAILER = Actor.system("shop.price_notices")
Item = Product | DomainExtension
T = TypeVar("T", bound=Product | DomainExtension)


class PriceChangeError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def notice_end(notified_on: dt.date) -> dt.date:
    """The first day a rise announced on `notified_on` may apply: one month later."""
    return period_after(notified_on, Period.MONTH, notified_on.day)


def _item_filter(item: Item) -> dict[str, Item]:
    return {"product": item} if isinstance(item, Product) else {"extension": item}


# --- the catalogue ---------------------------------------------------------------------


def pending_prices(day: dt.date) -> dict[tuple[str, int], int]:
    """New prices in effect on `day` that the daily job has not written yet, by item."""
    prices: dict[tuple[str, int], int] = {}
    pending = PriceChange.objects.filter(applied=False, effective_on__lte=day).order_by(
        "effective_on", "pk"
    )
    for change in pending:
        if change.product_id is not None:
            prices[("product", change.product_id)] = change.new_price_cents
        elif change.extension_id is not None:
            prices[("extension", change.extension_id)] = change.new_price_cents
    return prices


def _key(item: Item) -> tuple[str, int]:
    return ("product" if isinstance(item, Product) else "extension", item.pk)


def catalogue_price_cents(item: Item, day: dt.date | None = None) -> int:
    """What a new customer pays for one period of `item` on `day` (default today)."""
    prices = pending_prices(day or timezone.localdate())
    return prices.get(_key(item), item.price_cents)


def with_prices_of_day(items: Sequence[T], day: dt.date | None = None) -> list[T]:
    """The items, each with the price of `day` in price_cents (for showing, not saving)."""
    prices = pending_prices(day or timezone.localdate())
    for item in items:
        item.price_cents = prices.get(_key(item), item.price_cents)
    return list(items)


def price_changes_apply(*, today: dt.date | None = None) -> int:
    """Write every change that took effect into its item's price; how many."""
    day = today or timezone.localdate()
    done = 0
    for change_id in (
        PriceChange.objects.filter(applied=False, effective_on__lte=day)
        .order_by("effective_on", "pk")
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            change = PriceChange.objects.select_for_update().get(pk=change_id)
            if change.applied:
                continue
            item = change.item
            type(item).objects.filter(pk=item.pk).update(price_cents=change.new_price_cents)
            change.applied = True
            change.save(update_fields=["applied"])
            done += 1
    return done


# --- subscriptions ---------------------------------------------------------------------


def first_period_from(subscription: Subscription, day: dt.date) -> dt.date:
    """The first day of the first period not yet invoiced that starts on or after `day`."""
    start, end = subscription.next_period()
    while start < day:
        start = end + dt.timedelta(days=1)
        end = period_after(start, subscription.period, subscription.started_on.day) - dt.timedelta(
            days=1
        )
    return start


def subscription_price_cents(
    subscription: Subscription, period_start: dt.date, *, before: PriceChange | None = None
) -> int:
    """What the period of `subscription` that starts on `period_start` costs (net).

    The order line's price for later periods (a transfer's first period has its own),
    changed by each later change in effect by `period_start`:
    a decrease at once, a rise only once this subscriber's notice has run. `before`
    leaves out that change and every later one (the price a notice compares with).
    """
    ordered = timezone.localdate(subscription.line.order.created_at)
    price = subscription.line.recurring_price_cents
    notices = {n.change_id: n for n in subscription.price_notices.all()}
    changes = PriceChange.objects.filter(
        **_item_filter(subscription.item), effective_on__gt=ordered, effective_on__lte=period_start
    ).order_by("effective_on", "pk")
    for change in changes:
        if before is not None and (change.effective_on, change.pk) >= (
            before.effective_on,
            before.pk,
        ):
            break
        notice = notices.get(change.pk)
        if change.new_price_cents <= price or (
            notice is not None and notice.applies_from <= period_start
        ):
            price = change.new_price_cents
    return price


def rise_end_date(subscription: Subscription, today: dt.date) -> dt.date | None:
    """The day before a rise this subscriber was told of applies, while it is still to come."""
    notices = subscription.price_notices.filter(notified_on__lte=today, applies_from__gt=today)
    rises = [n for n in notices.order_by("applies_from") if n.is_increase]
    return rises[0].applies_from - dt.timedelta(days=1) if rises else None


# --- scheduling and the notices --------------------------------------------------------


@dataclass(frozen=True)
class Scheduled:
    change: PriceChange
    notified: int


def affected_subscriptions(item: Item) -> int:
    """How many subscriptions of `item` renew and have an address to be told of a new price.

    An upper bound: one that already pays the new price is not told.
    """
    return (
        Subscription.objects.renewing()
        .filter(**_item_filter(item), customer__email__isnull=False)
        .count()
    )


def price_change_schedule(
    *,
    item: Item,
    new_price_cents: int,
    effective_on: dt.date,
    by: User,
    today: dt.date | None = None,
) -> Scheduled:
    """Record a new price from `effective_on` and mail the subscribers it reaches now."""
    today = today or timezone.localdate()
    if effective_on < today:
        raise PriceChangeError("in_the_past")
    with transaction.atomic():
        locked = type(item).objects.select_for_update().get(pk=item.pk)
        # The price the new one replaces: the last one scheduled, else today's.
        last = (
            PriceChange.objects.filter(**_item_filter(locked))
            .order_by("-effective_on", "-pk")
            .first()
        )
        if last is not None and last.effective_on > effective_on:
            raise PriceChangeError("before_scheduled")
        old = last.new_price_cents if last is not None else locked.price_cents
        if old == new_price_cents:
            raise PriceChangeError("same_price")
        change = PriceChange.objects.create(
            **_item_filter(locked),
            old_price_cents=old,
            new_price_cents=new_price_cents,
            effective_on=effective_on,
            scheduled_by=by,
        )
        audit_append(
            action="shop.price_change_scheduled",
            actor=by.actor().ref,
            data={
                "change": change.pk,
                "item": str(locked),
                "old_cents": old,
                "new_cents": new_price_cents,
                "effective_on": effective_on.isoformat(),
            },
        )
    if effective_on == today:
        price_changes_apply(today=today)
    notified = _notify(change, today)
    return Scheduled(change, notified)


def _live_changes(day: dt.date) -> list[PriceChange]:
    """Every change still to be told: those to come, and per item the one now in effect."""
    live: list[PriceChange] = []
    in_effect: dict[tuple[str, int], PriceChange] = {}
    for change in PriceChange.objects.select_related("product", "extension").order_by(
        "effective_on", "pk"
    ):
        if change.effective_on > day:
            live.append(change)
        else:
            in_effect[_key(change.item)] = change
    return list(in_effect.values()) + live


def price_notices_send(*, today: dt.date | None = None) -> int:
    """Write in due prices, then mail every subscriber a change reaches and was not told."""
    day = today or timezone.localdate()
    price_changes_apply(today=day)
    return sum(_notify(change, day) for change in _live_changes(day))


def _notify(change: PriceChange, day: dt.date) -> int:
    """Tell each renewing subscription of the change's item, ordered before it took effect."""
    queued = 0
    effective = timezone.make_aware(dt.datetime.combine(change.effective_on, dt.time()))
    candidates = (
        Subscription.objects.renewing()
        .filter(**_item_filter(change.item), line__order__created_at__lt=effective)
        .exclude(price_notices__change=change)
        .values_list("pk", flat=True)
    )
    for subscription_id in list(candidates):
        with transaction.atomic():
            # The renewal claim locks the subscription too: a period is priced either
            # before this notice or after it, never halfway.
            subscription = (
                Subscription.objects.select_for_update(of=("self",))
                .select_related("customer", "line__order", "product", "extension")
                .get(pk=subscription_id)
            )
            if subscription.ends_on is not None:
                continue
            if PriceNotice.objects.filter(change=change, subscription=subscription).exists():
                continue
            if timezone.localdate(subscription.line.order.created_at) >= change.effective_on:
                continue  # ordered at the new price
            starts = change.effective_on
            old = subscription_price_cents(
                subscription, first_period_from(subscription, starts), before=change
            )
            if change.new_price_cents == old:
                continue
            if change.new_price_cents > old:
                starts = max(starts, notice_end(day))
            applies_from = first_period_from(subscription, starts)
            old = subscription_price_cents(subscription, applies_from, before=change)
            if change.new_price_cents == old:
                continue
            customer = subscription.customer
            if customer.email is None:
                continue  # no mail, no notice: a rise does not apply to them
            try:
                address = customer.email.reveal(purpose="order_documents", actor=MAILER)
            except KeyShredded:
                continue
            notice = PriceNotice.objects.create(
                change=change,
                subscription=subscription,
                old_price_cents=old,
                new_price_cents=change.new_price_cents,
                notified_on=day,
                applies_from=applies_from,
            )
            mail_queue(
                template=emails.PRICE_NOTICE,
                to_subject=customer.id,
                recipient_email=str(address),
                language=customer.language,
                context={"notice_id": notice.pk},
                dedupe_key=f"price-notice:{change.pk}:{subscription.pk}",
            )
            audit_append(
                action="shop.price_notice_sent",
                actor=MAILER.ref,
                subject=customer.id,
                data={
                    "change": change.pk,
                    "subscription": subscription.pk,
                    "applies_from": applies_from.isoformat(),
                },
            )
            queued += 1
    return queued
