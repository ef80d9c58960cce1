"""Checking the payment service provider's payouts against the online payments in them.

A statement import keeps a payout (a credit from Mollie with a settlement reference)
as a payment that pays nothing, and a PayoutCheck in status "pending". The worker
(`billing_payout_checks`) then asks the provider for that settlement and the
payments it settles, outside the import's transaction:

- expected = payments - refunds - chargebacks - costs: the sum of kluis's own
  recorded online payments among them (the amount each was paid for); less the
  refunds the settlement deducts that kluis sent through the provider (the amount
  kluis recorded for each, matched on the provider's refund id), whichever payout held
  the payment refunded; less the chargebacks it deducts of payments kluis recorded as
  paid online (the amount the provider states: kluis has no record of its own of a
  payer's bank taking money back); less the provider's costs when the settlement
  states them;
- it matches when the statement's amount is exactly that, every payment, refund and
  chargeback listed is one kluis knows, and the provider's own payout amount is the
  same;
- anything else is "differs", with the difference, for finance: a refund kluis did not
  send, a chargeback of a payment kluis never heard of, costs the provider did not
  state, a payment kluis never heard of, or money that went missing. Nothing is
  accepted silently.

A provider that cannot be reached or refuses (Mollie serves settlements only to an
organisation access token, KLUIS_MOLLIE_ORGANISATION_TOKEN) leaves the check
"failed" with the reason; it is tried again on the next runs, MAX_ATTEMPTS in all.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from kluis.billing import mollie
from kluis.billing.chargebacks import chargebacks_sync
from kluis.billing.models import Chargeback, OnlinePayment, PayoutCheck, Refund

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def payout_check(check: PayoutCheck) -> PayoutCheck:
    """Ask the provider about one payout and record the outcome."""
    check.attempts += 1
    check.checked_at = timezone.now()
    try:
        if not (settings.KLUIS_MOLLIE_API_KEY or settings.KLUIS_MOLLIE_ORGANISATION_TOKEN):
            check.status, check.reason = PayoutCheck.Status.FAILED, "not_configured"
            check.save()
            return check
        settlement = mollie.settlement_get(check.reference)
    except mollie.ProviderError as exc:
        check.status = PayoutCheck.Status.FAILED
        check.reason = "unknown_settlement" if exc.unknown else "provider_error"
        check.save()
        return check
    ids = [payment_id for payment_id, _cents in settlement.payments]
    recorded = dict(
        OnlinePayment.objects.filter(provider_id__in=ids, payment__isnull=False).values_list(
            "provider_id", "amount_cents"
        )
    )
    online = sum(recorded.values())
    sent = dict(
        Refund.objects.filter(
            provider_refund_id__in=[refund_id for refund_id, _p, _c in settlement.refunds],
            status=Refund.Status.SENT,
        ).values_list("provider_refund_id", "amount_cents")
    )
    refunds = sum(sent[refund_id] for refund_id, _p, _c in settlement.refunds if refund_id in sent)
    charged = {payment for _c, payment, _a in settlement.chargebacks}
    paid_online = set(
        OnlinePayment.objects.filter(provider_id__in=charged, payment__isnull=False).values_list(
            "provider_id", flat=True
        )
    )
    chargebacks = sum(
        cents for _c, payment, cents in settlement.chargebacks if payment in paid_online
    )
    fees = settlement.fees_cents
    expected = online - refunds - chargebacks - (fees or 0)
    unknown = [i for i in ids if i not in recorded]
    reasons = [
        code
        for code, applies in (
            ("currency", settlement.currency != "EUR"),
            ("unknown_payments", bool(unknown)),
            ("unknown_refunds", any(r not in sent for r, _p, _c in settlement.refunds)),
            (
                "unknown_chargebacks",
                any(p not in paid_online for _c, p, _a in settlement.chargebacks),
            ),
            ("no_costs", fees is None),
            ("provider_amount", settlement.amount_cents != check.paid_out_cents),
            ("amount", check.paid_out_cents != expected),
        )
        if applies
    ]
    check.settlement_id = settlement.id
    check.provider_cents = settlement.amount_cents
    check.online_cents = online
    check.fees_cents = fees
    check.refunds_cents = refunds
    check.chargebacks_cents = chargebacks
    check.refunds = len(settlement.refunds)
    check.chargebacks = len(settlement.chargebacks)
    check.difference_cents = check.paid_out_cents - expected
    check.payments = len(ids)
    check.unknown_payments = len(unknown)
    check.status = PayoutCheck.Status.DIFFERS if reasons else PayoutCheck.Status.MATCHES
    check.reason = ",".join(reasons)
    check.save()
    _chargebacks_of(settlement, paid_online)
    return check


def _chargebacks_of(settlement: mollie.ProviderSettlement, paid_online: set[str]) -> None:
    """A chargeback the payout deducts of a payment kluis recorded reopens its invoice
    (kluis/billing/chargebacks.py), in case its webhook call never arrived: the
    payment's chargebacks are listed and what is new is recorded. A provider that
    cannot be asked leaves it to the webhook or the next check."""
    known = set(
        Chargeback.objects.filter(
            provider_id__in=[c for c, _p, _a in settlement.chargebacks]
        ).values_list("provider_id", flat=True)
    )
    todo = {p for c, p, _a in settlement.chargebacks if p in paid_online and c not in known}
    for online in OnlinePayment.objects.filter(provider_id__in=todo):
        try:
            chargebacks_sync(online)
        except mollie.ProviderError:
            logger.warning("the chargebacks of %s could not be listed", online.provider_id)


def payout_checks_run() -> dict[str, int]:
    """Check every payout still pending, and those that failed fewer than MAX_ATTEMPTS
    times; how many ended in each status."""
    outcome: dict[str, int] = {}
    todo = PayoutCheck.objects.filter(
        Q(status=PayoutCheck.Status.PENDING)
        | Q(status=PayoutCheck.Status.FAILED, attempts__lt=MAX_ATTEMPTS)
    ).order_by("created_at")
    for check in todo:
        done = payout_check(check)
        outcome[done.status] = outcome.get(done.status, 0) + 1
    return outcome


def payouts_to_review() -> list[PayoutCheck]:
    """What finance should look at: payouts that differ, or could not be checked."""
    return list(
        PayoutCheck.objects.filter(
            status__in=[PayoutCheck.Status.DIFFERS, PayoutCheck.Status.FAILED]
        ).select_related("payment")[:200]
    )
