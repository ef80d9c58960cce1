"""Dutch consumer law as kluis applies it: each rule once, here, where it is enforced.

A consumer is a customer of kind "person": a natural person not acting for a trade,
business or profession (art. 6:230g lid 1 sub a BW). An order remembers whether it was
a consumer's (`Order.consumer`), so a later change of the account does not change
what was agreed. Businesses get none of this: their agreement's term rules apply.

The rules, their source, and what they were checked against (search corpus, 2026-12-04):

- ORDER BUTTON — art. 6:230v lid 3 BW: the button must say unambiguously that ordering
  means a duty to pay; "bestelling met betalingsverplichting" is named in the article
  as enough. HR 4-10-2024, ECLI:NL:HR:2024:1355 (Bol.com): "bestelling plaatsen" is
  not enough, and such a contract can be annulled. Checked: the article's text as
  quoted in the Sdu commentary on art. 6:230v (sdu.nl); the ruling's text (inview.nl,
  lexboost.com copies of rechtspraak.nl) and cassatieblog.nl. Enforced: ORDER_BUTTON,
  used by the checkout template for everyone.
- WITHDRAWAL PERIOD — art. 6:230o BW: 14 days, for services from the day the contract is
  concluded; extended by 12 months when the information of art. 6:230m lid 1 sub h was
  not given. Checked only against secondary text (ECC Nederland, thuiswinkel.org); the
  article itself was not retrieved: NOT checked against the primary text. Enforced:
  withdrawal_deadline().
- WITHDRAWAL INFORMATION — art. 6:230m lid 1 sub h BW (conditions, period, procedure,
  model form). Not checked against the primary text (LEGAL.md §9 only). Enforced: the
  checkout shows document "withdrawal_info" to consumers and records its version on the
  order; the confirmation mail carries the model form ("withdrawal_form", PDF).
- START AT ONCE — art. 6:230p sub d BW: for a service the right lapses only after full
  performance begun with the consumer's express prior consent and acknowledgement.
  Checked: the sub-article's wording as quoted by thuiswinkel.org (2013). The request is
  asked in the checkout and kept as an Acceptance of "start_request"; without it, a
  consumer order is not delivered before the period ends (delivery_allowed()).
- PRO RATA ON WITHDRAWAL — art. 6:230s lid 4 BW: after such a request the consumer owes
  an amount in proportion to what was performed at the moment of withdrawal, compared
  with full performance, on the total price in the contract; lid 5: nothing is owed
  when the information or the request is missing. Checked: lid 4 against the article
  text at explore.law (a copy of wetten.overheid.nl); lid 5 NOT checked. Enforced:
  withdrawal_supplied().
- TACIT RENEWAL — art. 6:236 sub j BW (black list): a tacitly renewed consumer contract
  must be terminable at any time with at most one month's notice. Checked: the sub's
  wording as quoted on richardhak.nl; the article's opening (consumer, general terms) in
  the Sdu commentary on art. 6:236. Enforced: consumer_end_date().
- LIABILITY — art. 6:237 sub f BW (grey list): a clause freeing the user from a
  statutory duty to pay damages is presumed unreasonably onerous. Checked: the Sdu
  commentary's text of art. 6:237. In agreement 2.0, art. 9.
- PRICE RISE — art. 6:236 sub i BW: a price rise within three months of the contract
  only with a right to dissolve. Checked only against a secondary source
  (groenenboomadvocaat.nl): NOT checked against the primary text. In agreement 2.0,
  art. 4; the renewal notice states the price of the next year.
- GOVERNING LAW — Rome I (Reg. 593/2008) art. 6(2): a choice of law may not deprive
  the consumer of the protection of the provisions that cannot be derogated from by
  agreement under the law of the country of habitual residence. Checked only against
  quotations in secondary sources (research.rug.nl; Directive 2013/11/EU as quoted on
  wordscope.be), NOT against the primary text. In agreement 2.0, art. 10.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kluis.accounts.models import Customer
from kluis.shop.models import Order, OrderLine, Period, Subscription, period_after

ORDER_BUTTON = _("Bestelling met betalingsverplichting")
WITHDRAWAL_DAYS = 14
INFORMATION_MISSING_EXTENSION_YEARS = 1


def is_consumer(customer: Customer) -> bool:
    return customer.kind == Customer.Kind.PERSON


def _plus_months(day: dt.date, period: str) -> dt.date:
    return period_after(day, period, day.day)


def withdrawal_deadline(order: Order) -> dt.date:
    """The last day a consumer may withdraw from this order (art. 6:230o BW)."""
    ordered = timezone.localdate(order.created_at)
    deadline = ordered + dt.timedelta(days=WITHDRAWAL_DAYS)
    if not order.withdrawal_info_version:
        deadline = _plus_months(deadline, Period.YEAR)
    return deadline


def can_withdraw(order: Order, today: dt.date | None = None) -> bool:
    if not order.consumer or order.status in (Order.Status.CANCELLED, Order.Status.WITHDRAWN):
        return False
    return (today or timezone.localdate()) <= withdrawal_deadline(order)


def delivery_allowed(order: Order, today: dt.date | None = None) -> bool:
    """A consumer order without the request to start at once waits for the period's end."""
    if not order.consumer or order.start_now_requested:
        return True
    return (today or timezone.localdate()) > withdrawal_deadline(order)


def first_period_end(subscription: Subscription) -> dt.date:
    start = subscription.started_on
    return period_after(start, subscription.period, start.day) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Supplied:
    """What of one order line was supplied up to the withdrawal, and what is owed for it."""

    line: OrderLine
    days: int
    of_days: int
    owed_cents: int

    @property
    def credit_cents(self) -> int:
        return self.line.price_cents - self.owed_cents


def withdrawal_supplied(order: Order, today: dt.date) -> list[Supplied]:
    """Per line of the order, what the consumer owes for what was supplied (6:230s).

    Owed only when the withdrawal information was given and the consumer asked to start
    at once; then in proportion to the days of the line's first period that had begun
    by the day of withdrawal (that day included). A line not yet delivered owes nothing.
    """
    owes = bool(order.withdrawal_info_version) and order.start_now_requested
    result = []
    for line in order.lines.all():
        subscription = Subscription.objects.filter(line=line).first()
        if subscription is None:
            result.append(Supplied(line, 0, 1, 0))
            continue
        end = first_period_end(subscription)
        of_days = (end - subscription.started_on).days + 1
        days = min(max((today - subscription.started_on).days + 1, 0), of_days)
        owed = round(line.price_cents * days / of_days) if owes else 0
        result.append(Supplied(line, days, of_days, owed))
    return result


def consumer_end_date(subscription: Subscription, today: dt.date) -> dt.date:
    """The last day of a consumer's subscription ended today (art. 6:236 sub j BW).

    In the first term: the end of that term. After it: one month's notice from today,
    or the end of the period already invoiced when that comes sooner.
    """
    first_end = first_period_end(subscription)
    notice_end = _plus_months(today, Period.MONTH) - dt.timedelta(days=1)
    return min(subscription.period_end, max(first_end, notice_end))
