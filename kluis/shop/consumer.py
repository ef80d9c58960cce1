"""Dutch consumer law as kluis applies it: each rule once, here, where it is enforced.

A consumer is a customer of kind "person": a natural person not acting for a trade,
business or profession (art. 6:230g lid 1 sub a BW). An order remembers whether it was
a consumer's (`Order.consumer`), so a later change of the account does not change
what was agreed. Businesses get none of this: their agreement's term rules apply.

The rules, their source, and what they were checked against (search corpus; first pass
2026-12-04, second pass the same day, marked "2nd"). "Primary text" is the article as
published (wetten.overheid.nl, EUR-Lex); the search tool holds no wetten.overheid.nl
article and only the opening of EUR-Lex pages, so where a result says "verbatim copy" it
was checked against the article's words as quoted in full, with date and URL, by a third
party that read the primary site.

- ORDER BUTTON — art. 6:230v lid 3 BW: the button must say unambiguously that ordering
  means a duty to pay; "bestelling met betalingsverplichting" is named in the article
  as enough. HR 4-10-2024, ECLI:NL:HR:2024:1355 (Bol.com): "bestelling plaatsen" is
  not enough, and such a contract can be annulled. Checked: the article's text as
  quoted in the Sdu commentary on art. 6:230v (sdu.nl); the ruling's text (inview.nl,
  lexboost.com copies of rechtspraak.nl) and cassatieblog.nl. Enforced: ORDER_BUTTON,
  used by the checkout template for everyone.
- WITHDRAWAL PERIOD — art. 6:230o BW. 2nd: lid 1 sub a checked against a verbatim copy
  (a research note quoting wetten.overheid.nl BWBR0005289, version in force from
  16-07-2026, read 2026-08-26): the consumer may dissolve "tot een termijn van veertien
  dagen is verstreken, na: a. bij een overeenkomst tot het verrichten van diensten: de
  dag waarop de overeenkomst wordt gesloten"; by art. 6:230i lid 2 the periods follow
  Reg. 1182/71, whose art. 3(1) leaves that day out. So the last day is the order's day
  + 14, which is withdrawal_deadline(). Lid 2 (up to twelve months longer when the
  information of art. 6:230m lid 1 sub h is missing) only as paraphrased there, not
  verbatim: partly checked. Result: the product agrees; nothing changed.
- WITHDRAWAL INFORMATION — art. 6:230m lid 1 sub h BW. 2nd: the words sub h gained on
  19-06-2026 checked against the same verbatim copy: "en, in voorkomend geval,
  informatie over de beschikbaarheid en de plaats van de functie, bedoeld in artikel
  230oa lid 1" (art. 6(1)(h) CRD as replaced by Dir. (EU) 2023/2673). The rest of sub h
  (conditions, period, procedure, model form) not seen verbatim. Result: the product
  was short of it; fixed: withdrawal_info 1.1 says where the withdrawal button is
  (Bestellingen, the order's page), how long it shows, how to confirm and that a dated
  acknowledgement follows. Enforced: the checkout shows document "withdrawal_info" to
  consumers and records its version on the order; the confirmation mail carries the
  model form ("withdrawal_form", PDF).
- WITHDRAWAL FUNCTION — art. 6:230oa BW (in force 19-06-2026; art. 11a CRD). Found on
  the 2nd pass in the same verbatim copy (leden 1, 4, 5) and the amending directive's
  art. 11a as quoted there: a clearly visible, easily reached function; a confirmation
  labelled "confirm withdrawal" or an unambiguous equivalent; an acknowledgement on a
  durable medium, without delay, with the content and the date and time; available all
  through the period. Fixed: the confirm button reads "Herroeping bevestigen", and the
  status mail of a withdrawn order is that acknowledgement (what was withdrawn, date,
  time). ACM's guidance (quoted there) says an account may be offered but not
  required: besides the portal's button, the public page /winkel/herroepen/ takes the
  order number and the order's address, without a log-in (kluis/shop/withdrawal.py);
  a link to the order's own address finishes it, and it counts from the form's moment.
  withdrawal_info 1.2 names both ways (the link "Bestelling herroepen" is in every
  page's footer).
- START AT ONCE — art. 6:230p sub d BW. 2nd: checked against the verbatim copy: no right
  of withdrawal for "een overeenkomst tot het verrichten van diensten, na nakoming van
  de overeenkomst, en voor zover de overeenkomst voor de consument een
  betalingsverplichting inhoudt, indien: 1°. de nakoming is begonnen met uitdrukkelijke
  voorafgaande instemming van de consument; en 2°. de consument heeft verklaard afstand
  te doen van zijn recht van ontbinding zodra de handelaar de overeenkomst is
  nagekomen". Result: agrees. A hosting period is not fully performed within the 14
  days, so the right never lapses through sub d here; the request (document
  "start_request", which holds the 2° declaration) only makes the pro-rata amount owed.
  Without it, a consumer order is not delivered before the period ends
  (delivery_allowed()).
- PRO RATA ON WITHDRAWAL — art. 6:230s lid 4 BW: after such a request the consumer owes
  an amount in proportion to what was performed at the moment of withdrawal, compared
  with full performance, on the total price in the contract. Checked: lid 4 against the
  article text at explore.law (a copy of wetten.overheid.nl); 2nd: again against the
  verbatim copy, and lid 6 (no other costs for withdrawing). Lid 5, nothing owed for a
  service when the information or the request is missing. 2nd: partly checked: its
  opening "De consument draagt geen kosten voor:" and its digital-content item are
  quoted verbatim in a second third-party note; the services item only through the
  Thuiswinkel model terms, which state it (information or model form not given, or no
  express request). Result: agrees. Enforced: withdrawal_supplied().
- TACIT RENEWAL — art. 6:236 sub j BW (black list): a tacitly renewed consumer contract
  must be terminable at any time with at most one month's notice. Checked: the sub's
  wording as quoted on richardhak.nl; the article's opening (consumer, general terms) in
  the Sdu commentary on art. 6:236. 2nd: the primary text was looked for (wetten.overheid
  copies, wetboekplus, collegebundel, explore.law, repository copies) and not found;
  the Sdu commentary's stored text stops at sub f. NOT checked against the primary
  text. Enforced: consumer_end_date().
- LIABILITY — art. 6:237 sub f BW (grey list): a clause freeing the user from a
  statutory duty to pay damages is presumed unreasonably onerous. Checked: the Sdu
  commentary's text of art. 6:237. In agreement 2.0, art. 9.
- PRICE RISE — art. 6:236 sub i BW: a price rise within three months of the contract
  only with a right to dissolve. Checked only against a secondary source
  (groenenboomadvocaat.nl); 2nd: the primary text was looked for as for sub j and not
  found: NOT checked against the primary text. In agreement 2.0, art. 4, which kluis
  keeps for every customer (kluis/shop/pricing.py): a rise is announced a month before
  it applies, and the subscriber may end without costs before it does, which covers a
  rise within the first three months too.
- GOVERNING LAW — Rome I (Reg. 593/2008) art. 6(2). 2nd: checked against the Regulation's
  own text of art. 6 (French language version, as published in the OJ and reproduced
  on europadatenbank.iaaeu.de; EUR-Lex's page for 32008R0593 is in the corpus only up to
  the recitals): the parties may choose the law, but the choice "ne peut cependant avoir
  pour résultat de priver le consommateur de la protection que lui assurent les
  dispositions auxquelles il ne peut être dérogé par accord en vertu de la loi qui
  aurait été applicable, en l'absence de choix, sur la base du paragraphe 1" (the law of
  the consumer's habitual residence, where the trader directs its activities there).
  Result: agreement 2.0 art. 10 agrees (it keeps that protection for every consumer
  abroad, which is at least what 6(2) asks).
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
