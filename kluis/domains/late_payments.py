"""A renewal paid after its domain was deleted for non-payment.

What a provider does: the customer paid for a term kluis no longer delivers, so the
money goes back, decided by people. kluis does not re-register the name by itself
(it may be taken by now, and a new registration is a new order the customer chooses),
and never sends money by itself:

- **Billing** already takes care of the money: the deletion ended the subscription and
  credited the renewal period, so a payment for that invoice is more than what it still
  owes, and `apply_payment` turns what is over into a refund proposal. Finance takes it
  up and a second finance user approves it (four eyes) before a payment file or the
  payment provider's refund sends anything.
- **Here**, the hourly `domains_expiry` job looks for such proposals on the renewal
  invoices of domains deleted for non-payment, made after the deletion, and then mails
  the customer once (what happened, that the amount goes back once finance has
  checked it, and that the name can be ordered anew if it is still free) and audits it.
  The domains desk lists them ("Betaald na opheffing") with the refund's state.

- **Restored instead,** where the registry still holds the domain (its redemption
  period, RFC 3915; SIDN's quarantine for a .nl) and restores it:
  kluis/domains/restore.py tries that first, and
  only a restore that is not offered or that the registry refuses leads to the mail
  above. A customer once told of the refund is not restored afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kluis.audit.chain import audit_append
from kluis.billing.models import Refund
from kluis.domains import restore, shop_link
from kluis.domains.emails import domain_context, mail_to_customer
from kluis.domains.epp.client import EppError
from kluis.domains.models import DomainRegistration
from kluis.domains.services import SessionFor, _session
from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.policy.enforce import Actor
from kluis.shop.models import SubscriptionRenewal

log = logging.getLogger(__name__)
ACTOR = Actor.system("domains")
PAID_AFTER_DELETE = "domains/email/paid_after_delete"
PURPOSE = "order_status"
# How long after a deletion a payment is still looked for.
LOOK_BACK = dt.timedelta(days=180)


@mail_kind(template=PAID_AFTER_DELETE, purpose=PURPOSE, references={"registration"})
def _paid_after_delete_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    return domain_context(context, actor)


def paid_after_delete_key(registration: DomainRegistration) -> str:
    return f"domains:paid-after-delete:{registration.pk}"


@dataclass(frozen=True)
class LatePayment:
    registration: DomainRegistration
    refunds: list[Refund]

    @property
    def amount_cents(self) -> int:
        return sum(r.amount_cents for r in self.refunds)


def _credited_invoices(registration: DomainRegistration) -> list[str]:
    """The renewal invoices of the periods the deletion ended (credited)."""
    subscription_id = shop_link.subscription_of(registration.line)
    if subscription_id is None:
        return []
    return list(
        SubscriptionRenewal.objects.filter(
            subscription_id=subscription_id,
            period_end__gt=F("subscription__ends_on"),
        )
        .exclude(invoice_number="")
        .values_list("invoice_number", flat=True)
    )


def late_payments(*, now: dt.datetime | None = None) -> list[LatePayment]:
    """Domains deleted for non-payment whose renewal invoice got money after the delete."""
    now = now or timezone.now()
    found = []
    for registration in DomainRegistration.objects.filter(
        status=DomainRegistration.Status.DELETED,
        end_reason=DomainRegistration.EndReason.UNPAID,
        deleted_at__gte=now - LOOK_BACK,
    ).select_related("order", "line"):
        assert registration.deleted_at is not None
        numbers = _credited_invoices(registration)
        if not numbers:
            continue
        refunds = list(
            Refund.objects.filter(
                invoice__number__in=numbers, created_at__gte=registration.deleted_at
            ).exclude(status__in=Refund.NOT_PAID_BACK)
        )
        if refunds:
            found.append(LatePayment(registration, refunds))
    return found


def late_payments_run(*, now: dt.datetime | None = None, session_for: SessionFor = _session) -> int:
    """Restore each domain paid after the delete where its registry still can, else
    tell the customer once that the money goes back; how many restored or told."""
    now = now or timezone.now()
    told = 0
    for late in late_payments(now=now):
        registration = late.registration
        key = paid_after_delete_key(registration)
        if OutboxMessage.objects.filter(dedupe_key=key).exists():
            continue
        try:
            outcome = restore.restore_late(late, session_for=session_for, now=now)
        except EppError as exc:
            log.info("restore of %s waits: %s", registration.pk, exc)
            continue  # the registry is not reachable: the next run tries again
        if outcome == restore.Outcome.RESTORED:
            told += 1
            continue
        if outcome == restore.Outcome.WAITING:
            continue
        with transaction.atomic():
            mail_to_customer(
                registration, PAID_AFTER_DELETE, PURPOSE, {"registration": registration.pk}, key
            )
            audit_append(
                action="domains.paid_after_delete",
                actor=ACTOR.ref,
                subject=registration.order.customer_id,
                data={
                    "registration": registration.pk,
                    "refunds": [r.pk for r in late.refunds],
                    "amount_cents": late.amount_cents,
                },
            )
        told += 1
    return told
