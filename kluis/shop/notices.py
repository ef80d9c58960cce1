"""Notices the agreements promise, sent through the outbox ahead of time.

- Sub-processors (processor agreement 2.0, art. 8; art. 28(2) GDPR): when the list of
  sub-processors the policy declares changes, every customer with a processor
  agreement whose contract runs is told 30 days before the change takes effect, and
  may object. The first list recorded is the one the processor agreement already
  names; it is announced to no one.
- Yearly renewal (agreement 2.0, art. 2; art. 6:236 sub j BW, kluis/shop/consumer.py):
  a consumer is told before a yearly item renews, with the new period, the price and
  how to end it. Sent RENEWAL_NOTICE_DAYS ahead, before the renewal's invoice.

Each mail has a dedupe key: a rerun, or two workers at once, sends it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.mail.services import mail_queue
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.render import country_name
from kluis.shop import emails
from kluis.shop.models import Period, SubprocessorNotice, Subscription
from kluis.vault.errors import KeyShredded

NOTICE_DAYS = 30
RENEWAL_NOTICE_DAYS = 30
MAILER = Actor.system("shop.notices")


def subprocessor_names() -> list[str]:
    """The declared sub-processors, one line each: legal name, city and country."""
    policy = current_policy()
    return sorted(
        f"{sub.legal_name} ({sub.city}, {country_name(recipient.country)})"
        for _key, recipient, sub in policy.subprocessors()
    )


@dataclass(frozen=True)
class Announced:
    notice: SubprocessorNotice | None
    queued: int


def subprocessors_announce(*, today: dt.date | None = None) -> Announced:
    """Record the current list; if it differs from the last one, tell every customer."""
    names = subprocessor_names()
    fingerprint = hashlib.sha256("\n".join(names).encode()).hexdigest()
    day = today or timezone.localdate()
    with transaction.atomic():
        # One run at a time records a list: the unique fingerprint makes a second fail.
        if SubprocessorNotice.objects.filter(fingerprint=fingerprint).exists():
            return Announced(None, 0)
        first = not SubprocessorNotice.objects.exists()
        notice = SubprocessorNotice.objects.create(
            fingerprint=fingerprint,
            names="\n".join(names),
            takes_effect_on=day if first else day + dt.timedelta(days=NOTICE_DAYS),
            announced=not first,
        )
        if first:
            return Announced(notice, 0)
        queued = 0
        customers = (
            Customer.objects.filter(acceptances__document="processor_agreement")
            .exclude(contract_ended_at__lte=timezone.now())
            .distinct()
        )
        for customer in customers:
            if customer.email is None:
                continue
            try:
                address = customer.email.reveal(purpose="order_documents", actor=MAILER)
            except KeyShredded:
                continue
            mail_queue(
                template=emails.SUBPROCESSORS,
                to_subject=customer.id,
                recipient_email=str(address),
                language=customer.language,
                context={"notice_id": notice.pk, "customer_id": str(customer.id)},
                dedupe_key=f"subprocessors:{fingerprint[:16]}:{customer.id}",
            )
            queued += 1
    return Announced(notice, queued)


def renewal_notices_send(*, today: dt.date | None = None) -> int:
    """Tell consumers whose yearly items renew within RENEWAL_NOTICE_DAYS; once per period."""
    day = today or timezone.localdate()
    due = (
        Subscription.objects.renewing()
        .filter(
            period=Period.YEAR,
            line__order__consumer=True,
            period_end__gte=day,
            period_end__lte=day + dt.timedelta(days=RENEWAL_NOTICE_DAYS),
        )
        .select_related("customer")
    )
    queued = 0
    for subscription in due:
        customer = subscription.customer
        if customer.email is None:
            continue
        start, _end = subscription.next_period()
        with transaction.atomic():
            try:
                address = customer.email.reveal(purpose="order_documents", actor=MAILER)
            except KeyShredded:
                continue
            mail_queue(
                template=emails.RENEWAL_NOTICE,
                to_subject=customer.id,
                recipient_email=str(address),
                language=customer.language,
                context={"subscription_id": subscription.pk, "start": start.isoformat()},
                dedupe_key=f"renewal-notice:{subscription.pk}:{start.isoformat()}",
            )
        queued += 1
    return queued
