"""A chargeback reopens its invoice.

A payer's bank can take an iDEAL payment back (a chargeback, SEPA reason codes such as
MD06). Mollie then leaves the payment's status `paid`, shows `amountChargedBack` on it,
lists the chargeback under `GET /v2/payments/{id}/chargebacks` and calls the payment's
webhook; the next settlement deducts it. kluis learns of it in two ways, which end in
the same place (`chargeback_record`):

- the webhook: `online.ideal_sync` fetches the payment; when it shows money charged
  back, or kluis holds a chargeback of it not yet reversed, it lists the payment's
  chargebacks;
- the payout check (kluis/billing/payouts.py): a settlement that deducts a chargeback
  of a payment kluis recorded lists that payment's chargebacks too, so one webhook
  lost does not leave the invoice paid.

Recording a chargeback:
- it is a ledger entry of its own (`Chargeback`), beside the payment, which is never
  changed or deleted; its provider id is unique, so the same chargeback twice records
  nothing the second time (also when the webhook and the payout check race: the
  invoice's row lock orders them, and the second finds the first's row);
- under the invoice's row lock its amount comes off what the invoice has been paid:
  the open amount goes back up and, paid no longer, the invoice is open again (its
  `paid_at` cleared), so the portal, the iDEAL link and finance's open items show it;
- the customer gets one mail (dedupe key per chargeback) saying the payment was
  reversed and how to pay: the amount open, a date `chargeback_term_days()` ahead
  (CHARGEBACK_TERM_DAYS, or the usual payment term when that is longer), our account
  and the betalingskenmerk, and the iDEAL link. When that mail cannot go (a refused
  reveal, an erased customer, no address) the chargeback is recorded all the same,
  the mail is held (`mail_held`, audited as `billing.chargeback_mail_held`) and
  finance's overview says so;
- reminders wait: the dunning schedule counts from that date instead of the old due
  date (kluis/billing/dunning.py, `standing`), and then runs as for any unpaid
  invoice (reminders, the statutory letter, collections). An order delivered on the
  payment stays delivered; its page on the orders desk shows the chargeback;
- refunds of the invoice that the money left no longer covers are cancelled (a
  proposal, proposed anew for the part that still fits), held out of the payment file
  (an approved one, with the part that still fits for finance to read) or flagged (one
  in a payment file or sent), each audited, for finance (`_refunds_hold`);
- a hand-over to the debt collector that ended because the invoice was paid stands
  again, for finance to tell the collector (`dunning.dunning_invoice_charged_back`);
- it is audited (`billing.chargeback_received`) and listed on finance's overview.

A reversed chargeback (the bank withdrew it; Mollie sets `reversedAt`): one kluis
recorded counts as paid again, under the same lock, as the payment did: the invoice
is paid again when that completes it (reminders sent meanwhile are closed; the
order and domain renewals heard of the payment the first time, so they are not told
again), and what is then paid over the invoice (the customer paid again after our
mail) is proposed for refund, four-eyes as any other. A chargeback reversed before
kluis heard of it took no money and is not recorded.

A chargeback of a payment kluis has not recorded as paid online is left to the payout
check, which flags it ("unknown_chargebacks"); one larger than what is left of its
payment is logged and not recorded, for finance to look at.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from kluis.audit.chain import audit_append
from kluis.billing import mollie
from kluis.billing.dunning import dunning_invoice_charged_back, dunning_invoice_paid
from kluis.billing.emails import mail_chargeback
from kluis.billing.models import Chargeback, Invoice, OnlinePayment, Payment, Refund
from kluis.billing.services import BILLING
from kluis.vault.errors import KeyShredded, RevealRefused

logger = logging.getLogger(__name__)

# What the mail gives the customer to pay again, counted from the day it is recorded:
# at least this, and never less than the usual payment term (KLUIS_PAYMENT_TERM_DAYS).
CHARGEBACK_TERM_DAYS = 14


def chargeback_term_days() -> int:
    return max(CHARGEBACK_TERM_DAYS, settings.KLUIS_PAYMENT_TERM_DAYS)


def chargebacks_wanted(online: OnlinePayment, answer: mollie.ProviderPayment) -> bool:
    """Whether the payment's chargebacks are to be listed: money charged back now, or a
    chargeback kluis recorded that may since have been reversed."""
    if online.payment_id is None:
        return False
    return (
        answer.charged_back_cents > 0
        or Chargeback.objects.filter(
            payment_id=online.payment_id, status=Chargeback.Status.RECEIVED
        ).exists()
    )


def chargebacks_sync(online: OnlinePayment) -> list[Chargeback]:
    """List the payment's chargebacks at the provider and record what is new: new
    chargebacks and reversals. Raises mollie.ProviderError when the provider cannot be
    asked; nothing changes then."""
    if online.payment_id is None:
        return []
    recorded = []
    for item in mollie.payment_chargebacks(online.provider_id):
        done = chargeback_record(online_pk=online.pk, item=item)
        if done is not None:
            recorded.append(done)
    return recorded


def chargeback_record(*, online_pk: int, item: mollie.ProviderChargeback) -> Chargeback | None:
    """Record one chargeback, or its reversal; None when there was nothing to do."""
    try:
        with transaction.atomic():
            return _record(online_pk, item)
    except IntegrityError:
        # Another process recorded the same chargeback between our look and our insert.
        return None


def _record(online_pk: int, item: mollie.ProviderChargeback) -> Chargeback | None:
    online = OnlinePayment.objects.select_related("payment").get(pk=online_pk)
    payment = online.payment
    if payment is None or payment.invoice_id is None or item.payment_id != online.provider_id:
        return None
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=payment.invoice_id)
    )
    existing = Chargeback.objects.filter(provider_id=item.id).first()
    if existing is None:
        if item.reversed_at is not None:
            return None  # withdrawn before we heard of it: no money left us
        return _received(invoice, payment, item)
    if item.reversed_at is not None and existing.status == Chargeback.Status.RECEIVED:
        return _reversed(invoice, existing, item.reversed_at)
    return None


def _received(
    invoice: Invoice, payment: Payment, item: mollie.ProviderChargeback
) -> Chargeback | None:
    taken = (
        Chargeback.objects.filter(payment=payment, status=Chargeback.Status.RECEIVED).aggregate(
            total=Sum("amount_cents")
        )["total"]
        or 0
    )
    if item.amount_cents > payment.amount_cents - taken:
        logger.error(
            "chargeback %s of %s cents is more than is left of payment %s; not recorded",
            item.id,
            item.amount_cents,
            payment.pk,
        )
        return None
    now = timezone.now()
    reopened = invoice.take_back(item.amount_cents)
    invoice.save(update_fields=["paid_cents", "paid_at"])
    chargeback = Chargeback.objects.create(
        provider_id=item.id,
        payment=payment,
        invoice=invoice,
        amount_cents=item.amount_cents,
        reason_code=item.reason_code,
        received_at=item.created_at or now,
        open_cents=max(invoice.open_cents, 0),
        pay_by=timezone.localdate(now) + dt.timedelta(days=chargeback_term_days()),
    )
    audit_append(
        action="billing.chargeback_received",
        actor=BILLING.ref,
        subject=invoice.customer_id,
        data={
            "invoice": invoice.number,
            "provider_id": item.id,
            "payment": item.payment_id,
            "cents": item.amount_cents,
            "open_cents": chargeback.open_cents,
            "reason": item.reason_code,
            "reopened": reopened,
        },
    )
    _refunds_hold(invoice, chargeback)
    dunning_invoice_charged_back(invoice)
    held = _mail(chargeback)
    if held:
        chargeback.mail_held = held
        chargeback.save(update_fields=["mail_held"])
    return chargeback


def _mail(chargeback: Chargeback) -> str:
    """Queue the customer's mail; the reason it is held ("" when it is queued).

    The chargeback is recorded whatever happens to its mail: a refused reveal (the
    customer restricted processing or objected, art. 18/21 GDPR, where the policy lets
    the invoicing purpose not go on) or an erased customer's shredded key holds the
    mail, audited (`billing.chargeback_mail_held`), and finance's overview says the
    customer was not mailed. Both fail before anything is queued: nothing to undo."""
    invoice = chargeback.invoice
    if invoice.customer.email is None:
        return Chargeback.MailHeld.NO_ADDRESS
    try:
        mail_chargeback(chargeback)
    except RevealRefused as exc:
        held, reason = Chargeback.MailHeld.REFUSED, str(exc)
    except KeyShredded:
        held, reason = Chargeback.MailHeld.ERASED, "the customer's address was erased"
    else:
        return ""
    audit_append(
        action="billing.chargeback_mail_held",
        actor=BILLING.ref,
        subject=invoice.customer_id,
        data={
            "invoice": invoice.number,
            "provider_id": chargeback.provider_id,
            "held": held,
            "reason": reason,
        },
    )
    return held


def _refunds_hold(invoice: Invoice, chargeback: Chargeback) -> None:
    """Refunds of the invoice that the money left after the chargeback no longer covers.

    What may still go back is what the invoice is now paid over what it owes. Refunds
    already on their way (in a payment file, sent through the provider) count first,
    then approved ones, then proposals, oldest first; each takes what is left of that
    budget, and those that no longer fit whole:
    - a proposal is cancelled (rejected, reason `chargeback`), for finance to see; when
      part of it still fits, a new proposal of that part is made on the same payment
      (`replaces` the cancelled one; kluis proposes it, so finance takes it up and a
      second user approves it, as any proposal of kluis), and later ones get the rest;
    - an approved one is held out of the payment file and the provider (reason
      `chargeback`), with the part that still fits (`held_fits_cents`) reserved for it:
      finance enters the account again to propose it anew, or rejects it;
    - one in a payment file or sent is flagged (reason `chargeback`), not changed: the
      money may have gone, finance looks at it.
    Refunds an earlier chargeback held or flagged still count (a held one at most what
    fitted then) and are not told again unless less of a held one fits now.
    Each is audited with the chargeback."""
    budget = max(-invoice.open_cents, 0)
    order = {
        Refund.Status.EXPORTED: 0,
        Refund.Status.SENT: 0,
        Refund.Status.APPROVED: 1,
        Refund.Status.PROPOSED: 2,
    }
    refunds = sorted(
        Refund.objects.select_for_update().filter(invoice=invoice, status__in=list(order)),
        key=lambda r: (order[Refund.Status(r.status)], r.created_at, r.pk),
    )
    now = timezone.now()
    for refund in refunds:
        fits = min(refund.amount_cents, budget)
        held_before = refund.held_reason == Refund.CHARGEBACK
        if held_before and refund.status == Refund.Status.APPROVED:
            fits = min(fits, refund.held_fits_cents or 0)
        budget -= fits
        if held_before and (
            refund.status != Refund.Status.APPROVED or fits == refund.held_fits_cents
        ):
            continue  # told of it at an earlier chargeback, and nothing changed for it
        if fits == refund.amount_cents:
            continue
        _refund_stop(refund, invoice, chargeback, fits=fits, at=now)


def _refund_stop(
    refund: Refund, invoice: Invoice, chargeback: Chargeback, *, fits: int, at: dt.datetime
) -> None:
    """Cancel, hold or flag one refund of which only `fits` cents are still covered."""
    before = refund.status
    fields = ["held_reason"]
    refund.held_reason = Refund.CHARGEBACK
    replacement = None
    if before == Refund.Status.PROPOSED:
        refund.status = Refund.Status.REJECTED
        refund.decided_at = at
        fields += ["status", "decided_at"]
    elif before == Refund.Status.APPROVED:
        refund.held_fits_cents = fits
        fields.append("held_fits_cents")
    refund.save(update_fields=fields)
    if before == Refund.Status.PROPOSED and fits > 0:
        replacement = Refund.objects.create(
            invoice=invoice,
            payment_id=refund.payment_id,
            amount_cents=fits,
            proposed_by=None,
            payee_entered_by=refund.payee_entered_by,
            replaces=refund,
        )
    data: dict[str, object] = {
        "refund": refund.pk,
        "invoice": invoice.number,
        "cents": refund.amount_cents,
        "status": before,
        "reason": "chargeback",
        "chargeback": chargeback.provider_id,
    }
    if before != Refund.Status.EXPORTED and before != Refund.Status.SENT:
        data["fits_cents"] = fits
    if replacement is not None:
        data["replaced_by"] = replacement.pk
    audit_append(
        action="billing.refund_cancelled"
        if before == Refund.Status.PROPOSED
        else "billing.refund_held"
        if before == Refund.Status.APPROVED
        else "billing.refund_flagged",
        actor=BILLING.ref,
        subject=invoice.customer_id,
        data=data,
    )
    if replacement is not None:
        audit_append(
            action="billing.refund_reproposed",
            actor=BILLING.ref,
            subject=invoice.customer_id,
            data={
                "refund": replacement.pk,
                "replaces": refund.pk,
                "invoice": invoice.number,
                "cents": replacement.amount_cents,
                "chargeback": chargeback.provider_id,
            },
        )


def _reversed(invoice: Invoice, chargeback: Chargeback, at: dt.datetime) -> Chargeback:
    chargeback.status = Chargeback.Status.REVERSED
    chargeback.reversed_at = at
    chargeback.save(update_fields=["status", "reversed_at"])
    settled, excess = invoice.take_payment(chargeback.amount_cents, at=timezone.now())
    invoice.save(update_fields=["paid_cents", "paid_at"])
    if settled:
        # The order and the domain renewals heard of this payment when it first came
        # in; only the reminders sent since the chargeback are to be closed.
        dunning_invoice_paid(invoice)
    if excess > 0:
        Refund.objects.create(
            invoice=invoice, payment=chargeback.payment, amount_cents=excess, proposed_by=None
        )
    audit_append(
        action="billing.chargeback_reversed",
        actor=BILLING.ref,
        subject=invoice.customer_id,
        data={
            "invoice": invoice.number,
            "provider_id": chargeback.provider_id,
            "cents": chargeback.amount_cents,
            "paid_again": settled,
            "refund_proposed_cents": excess,
        },
    )
    return chargeback


def recent_chargebacks(days: int = 90, limit: int = 50) -> list[Chargeback]:
    """What finance's overview lists: the chargebacks of the last `days` days."""
    since = timezone.now() - dt.timedelta(days=days)
    return list(
        Chargeback.objects.filter(created_at__gte=since)
        .select_related("invoice__customer", "invoice__order")
        .order_by("-created_at")[:limit]
    )
