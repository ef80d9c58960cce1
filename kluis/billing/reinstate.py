"""A renewal cancelled for non-payment, reinstated because it was paid after all.

Where it comes from: a domain whose renewal invoice was not paid is deleted at its
expiry; its subscription ends the day before and the invoiced new term is credited
(a credit note). A payment for that invoice that comes later is more than it still
owes, so apply_payment proposes it for refund. When the registry still holds the
domain in its redemption period and restores it (kluis/domains/restore.py), the
customer gets the term they paid for instead of their money back. The books:

- **The credited invoice stays credited.** A credit note is never edited or taken
  back, and the invoice keeps its number and lines.
- **A new invoice** (the next number of the series, dated today, VAT decided as for a
  renewal) invoices the restored term: the same periods at the price they were invoiced
  for, and the registry's restore fee as a line of its own where one is charged.
- **The money is set off, not paid back.** Each refund proposal of the late payment is
  withdrawn (status "withdrawn", no longer for finance to decide) and its amount goes
  to the new invoice (a SetOff row: paid on the old invoice down, on the new one up).
  What the new invoice does not need is proposed for refund again, replacing the
  withdrawn proposal; what it needs more (a restore fee) stays open on it, with its
  payment term and reminders.
- **The subscription renews again**, its periods now on the new invoice
  (shop.subscription_resume).
- **Its mail:** with `mail_invoice=False` the new invoice gets no invoice mail of its
  own, because the caller's one mail carries its PDF (kluis/domains/restore.py: "your
  domain is restored", `billing.emails.invoice_attachment`).

Only refund proposals nobody decided yet are withdrawn: one approved (or in a payment
file, or sent) is money on its way back, and then nothing is reinstated
(BillingError "refund_decided"). Everything is one transaction, audited
(`billing.renewal_reinstated`, `billing.refund_withdrawn`, `shop.subscription_resumed`
and the new invoice's `billing.invoice_issued`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import override

from kluis.audit.chain import audit_append
from kluis.billing.models import Invoice, Refund, SetOff
from kluis.billing.renewals import _line_description, _vies_evidence
from kluis.billing.services import BILLING, BillingError, LineInput, invoice_issue_for_lines
from kluis.billing.settlement import invoice_paid
from kluis.billing.vat import vat_amount
from kluis.shop import services as shop_services
from kluis.shop.domains import domains_reveal
from kluis.shop.models import Subscription


@dataclass(frozen=True)
class Reinstated:
    invoice: Invoice
    # What the withdrawn proposals set off against it.
    set_off_cents: int
    # The first and last day of the restored term.
    period: tuple[dt.date, dt.date]
    # Whether what was set off pays the restored term (a fee may still be open).
    term_paid: bool


@transaction.atomic
def renewal_reinstate(
    *,
    subscription_id: int,
    refunds: Sequence[Refund],
    actor_ref: str,
    fee: LineInput | None = None,
    today: dt.date | None = None,
    mail_invoice: bool = True,
) -> Reinstated:
    """Reinstate the credited renewal of an ended subscription, paid by the money of
    `refunds` (the proposals its late payment made); see the module's text."""
    day = today or timezone.localdate()
    proposals = list(
        Refund.objects.select_for_update(of=("self",))
        .filter(pk__in=[r.pk for r in refunds])
        .select_related("invoice")
        .order_by("pk")
    )
    if not proposals or any(r.status != Refund.Status.PROPOSED for r in proposals):
        raise BillingError("refund_decided")
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("customer", "product", "extension", "line__order")
        .get(pk=subscription_id)
    )
    if subscription.ends_on is None:
        raise BillingError("not_ended")
    periods = list(
        subscription.renewals.filter(period_end__gt=subscription.ends_on)
        .exclude(invoice_number="")
        .order_by("period_start")
    )
    credited = {p.invoice_number for p in periods}
    if not periods or any(r.invoice.number not in credited for r in proposals):
        raise BillingError("not_this_renewal")
    customer = subscription.customer
    language = customer.language if customer.language in ("nl", "en") else "nl"
    domains = domains_reveal([subscription] * len(periods), purpose="invoicing", actor=BILLING)
    with override(language):
        lines = [
            LineInput(
                _line_description(subscription, p.period_start, p.period_end, language),
                p.price_cents,
                period=(p.period_start, p.period_end),
                domain=domain,
            )
            for p, domain in zip(periods, domains, strict=True)
        ]
    invoice = invoice_issue_for_lines(
        customer=customer,
        lines=[*lines, *([fee] if fee is not None else [])],
        evidence=_vies_evidence(customer, day),
        issued_by=None,
        issue_date=day,
        mail=mail_invoice,
    )
    shop_services.subscription_resume(
        subscription_id=subscription.pk, invoice_number=invoice.number, actor_ref=actor_ref
    )

    new = Invoice.objects.select_for_update().get(pk=invoice.pk)
    left = new.open_cents
    set_off = 0
    now = timezone.now()
    for refund in proposals:
        amount = min(refund.amount_cents, left)
        refund.status = Refund.Status.WITHDRAWN
        refund.decided_at = now
        refund.save(update_fields=["status", "decided_at"])
        if amount > 0:
            old = Invoice.objects.select_for_update().get(pk=refund.invoice_id)
            old.paid_cents -= amount
            old.save(update_fields=["paid_cents"])
            SetOff.objects.create(
                payment_id=refund.payment_id,
                refund=refund,
                from_invoice=old,
                to_invoice=new,
                amount_cents=amount,
            )
            left -= amount
            set_off += amount
        rest = refund.amount_cents - amount
        again = None
        if rest > 0:
            again = Refund.objects.create(
                invoice_id=refund.invoice_id,
                payment_id=refund.payment_id,
                amount_cents=rest,
                replaces=refund,
            )
        audit_append(
            action="billing.refund_withdrawn",
            actor=actor_ref,
            subject=customer.id,
            data={
                "refund": refund.pk,
                "invoice": refund.invoice.number,
                "cents": refund.amount_cents,
                "set_off_to": new.number,
                "set_off_cents": amount,
                "proposed_again": again.pk if again is not None else None,
            },
        )
    settled = False
    if set_off:
        settled, _over = new.take_payment(set_off, at=now)
        new.save(update_fields=["paid_cents", "paid_at"])
    if settled:
        invoice_paid(new)
    term_net = sum(line.unit_cents * line.quantity for line in lines)
    term_paid = set_off >= term_net + vat_amount(term_net, new.vat_rate_bp)
    audit_append(
        action="billing.renewal_reinstated",
        actor=actor_ref,
        subject=customer.id,
        data={
            "subscription": subscription.pk,
            "credited": sorted(credited),
            "invoice": new.number,
            "refunds": [r.pk for r in proposals],
            "set_off_cents": set_off,
            "fee_cents": fee.unit_cents * fee.quantity if fee is not None else 0,
        },
    )
    return Reinstated(
        invoice=new,
        set_off_cents=set_off,
        period=(periods[0].period_start, periods[-1].period_end),
        term_paid=term_paid,
    )
