"""A domain whose next term is not paid ends at its registry expiry, with notice.

- **Unpaid.** A registered domain's term is paid when its renewal invoice was paid:
  that queued a DomainRenewal for the registration from its current expiry on
  (kluis/domains/renewals.py). Without one the domain is not renewed, whether the
  renewal invoice is open or the customer ended the subscription.
- **Notice.** NOTICE_DAYS (14 and 3) days before the end day, an unpaid domain's
  customer gets a mail through the outbox, once per notice and term (the dedupe key
  names the registration, its expiry and the notice). A job that did not run on the
  14th day sends only the nearest notice, never two at once.
- **Ahead of a registry that renews by itself.** SIDN, DNS Belgium and DENIC renew a
  domain at its expiry, billed to us, unless it was deleted before
  (`Registry.renews_itself`). There an unpaid domain's end day is
  `delete_before_expiry_days` before its expiry (end_day), and the notices count down
  to that day: they name it as the day the domain is cancelled.
- **End.** From the end day on (the expiry day, or the days before it above), the
  worker's `domains_expiry` job sends <domain:delete>. The registry's yes, or its
  2303 (a run that crashed after the yes), marks the registration deleted, ends its
  subscription on the day before the expiry (billing credits the unpaid renewal
  period) and queues one mail, in one transaction (a registry with grace periods
  answers a second delete of a domain it holds as pendingDelete with 2304; <info>
  tells that apart from a lock). The contact clean-up job then deletes the holder's
  contact at the registry once no other domain there needs it
  (kluis/domains/follow.py).
- **Paid in time.** A payment that arrives before the delete is sent queues the
  renewal, and the domain is no longer unpaid: nothing is deleted. The unpaid check
  is repeated just before the delete.
- **Paid at transfer.** A transfer at a registry that adds no term to it (SIDN, EURid,
  DNS Belgium, DENIC: `transfer_years` None) keeps the registry's expiry, which may come
  well before the end of the first period the order paid for. Before any notice or
  delete, such a domain's first period is queued as its renewal (first_period_cover),
  so it is not unpaid at the registry's date and the renewal job renews it there
  (curExpDate the registry's date), or, at a registry that renews by itself, reads
  the registry's new date after it. One whose registry expiry comes after the paid
  period ends there, unpaid, as any other.
- **Refused.** A registry that refuses the delete (2304, a lock; 2201, no longer
  ours) leaves the domain registered with the registry's words on the domains desk.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.audit.chain import audit_append
from kluis.domains import shop_link
from kluis.domains.emails import domain_context, mail_to_customer
from kluis.domains.epp import responses as codes
from kluis.domains.epp.client import EppClient, EppCommandFailed, EppError
from kluis.domains.models import DomainRegistration, DomainRenewal
from kluis.domains.registries import REGISTRIES
from kluis.domains.services import ACTOR, SessionFor, _session
from kluis.formats import long_date
from kluis.mail.kinds import mail_kind
from kluis.mail.models import OutboxMessage
from kluis.policy.enforce import Actor

log = logging.getLogger(__name__)

NOTICE_DAYS = (14, 3)
NOTICE = "domains/email/expiry_notice"
DELETED = "domains/email/deleted"
PURPOSE = "order_status"


def first_period_cover(registrations: Iterable[DomainRegistration]) -> set[int]:
    """Queue the order's paid first period as the renewal of each transferred domain
    whose registry expiry comes within that period, at a registry where a transfer adds
    no term; the ids of those covered (queued now or before).

    The customer paid for the first period at the transfer; the registry's date alone
    would make the domain unpaid before that period ends. A domain not delivered yet
    (no subscription) has no paid period to go by and is left as it is.
    """
    candidates = [
        r
        for r in registrations
        if r.kind == DomainRegistration.Kind.TRANSFER
        and r.expires_on is not None
        and REGISTRIES[r.registry].transfer_years is None
    ]
    periods = shop_link.first_periods([r.line_id for r in candidates])
    covered = set()
    for registration in candidates:
        period = periods.get(registration.line_id)
        assert registration.expires_on is not None
        if period is None or registration.expires_on > period[1]:
            continue
        _renewal, created = DomainRenewal.objects.get_or_create(
            registration=registration,
            period_start=period[0],
            defaults={"expires_before": registration.expires_on},
        )
        if created:
            log.info("registration %s: the paid first period queued as renewal", registration.pk)
        covered.add(registration.pk)
    return covered


def unpaid() -> Any:
    """Registered domains with an expiry and no paid renewal from that expiry on."""
    paid = DomainRenewal.objects.filter(
        registration=OuterRef("pk"), expires_before__gte=OuterRef("expires_on")
    )
    return DomainRegistration.objects.filter(
        status=DomainRegistration.Status.REGISTERED, expires_on__isnull=False
    ).exclude(Exists(paid))


def end_day(registration: DomainRegistration) -> dt.date:
    """The day an unpaid domain is deleted: its expiry, or at a registry that renews by
    itself the configured days before it."""
    assert registration.expires_on is not None
    registry = REGISTRIES.get(registration.registry)
    ahead = registry.delete_before_expiry_days if registry and registry.renews_itself else 0
    return registration.expires_on - dt.timedelta(days=ahead)


def ending_by(day: dt.date) -> Q:
    """Registrations whose end day (end_day) is `day` or earlier."""
    ahead = {r.key: r.delete_before_expiry_days for r in REGISTRIES.values() if r.renews_itself}
    others = Q(expires_on__lte=day) & ~Q(registry__in=list(ahead))
    for key, days in ahead.items():
        others |= Q(registry=key, expires_on__lte=day + dt.timedelta(days=days))
    return others


# --- mails ----------------------------------------------------------------------------


def _mail_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    return {**domain_context(context, actor), "expires": long_date(str(context["expires"]))}


@mail_kind(template=NOTICE, purpose=PURPOSE, references={"registration", "expires", "days"})
def _notice_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    return {
        **_mail_context(context, actor),
        "days": int(context["days"]),
        "restorable_days": _restorable_days(context["registration"]),
    }


def _restorable_days(registration: Any) -> int:
    """How long after the delete a late payment still brings the name back (0: never)."""
    key = DomainRegistration.objects.values_list("registry", flat=True).get(pk=registration)
    registry = REGISTRIES.get(key)
    return registry.restorable_days if registry is not None else 0


@mail_kind(template=DELETED, purpose=PURPOSE, references={"registration", "expires"})
def _deleted_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    return _mail_context(context, actor)


def notice_key(registration: DomainRegistration, days: int) -> str:
    assert registration.expires_on is not None
    return f"domains:expiry:{registration.pk}:{registration.expires_on.isoformat()}:{days}"


def deleted_key(registration: DomainRegistration) -> str:
    return f"domains:deleted:{registration.pk}"


def _notice_due(ends_on: dt.date, today: dt.date) -> int | None:
    """The notice (days before the end day) that is due today, the nearest one only."""
    left = (ends_on - today).days
    if left <= 0:
        return None  # the day itself: the deletion's mail tells it
    due = [days for days in NOTICE_DAYS if left <= days]
    return min(due) if due else None


def notices_send(*, today: dt.date | None = None) -> int:
    """Mail each unpaid domain's customer the notice due today (once per notice): the
    mail names the end day (end_day) as the day the domain is cancelled."""
    today = today or timezone.localdate()
    soon = ending_by(today + dt.timedelta(days=max(NOTICE_DAYS)))
    # A transfer's paid first period first, so no notice goes out for it.
    first_period_cover(unpaid().filter(soon, kind=DomainRegistration.Kind.TRANSFER))
    sent = 0
    for registration in (
        unpaid().filter(soon).exclude(ending_by(today)).select_related("order__customer")
    ):
        assert registration.expires_on is not None
        ends_on = end_day(registration)
        days = _notice_due(ends_on, today)
        if days is None:
            continue
        key = notice_key(registration, days)
        if OutboxMessage.objects.filter(dedupe_key=key).exists():
            continue
        with transaction.atomic():
            mail_to_customer(
                registration,
                NOTICE,
                PURPOSE,
                {"registration": registration.pk, "expires": ends_on.isoformat(), "days": days},
                key,
            )
            audit_append(
                action="domains.expiry_notice",
                actor=ACTOR.ref,
                subject=registration.order.customer_id,
                data={"registration": registration.pk, "days": days},
            )
        sent += 1
    return sent


# --- the end --------------------------------------------------------------------------


def _after_delete(registration: DomainRegistration) -> None:
    """The moment between the registry's yes and our commit (tests crash here)."""


def subscription_end(registration: DomainRegistration, last_day: dt.date) -> str:
    """Stop the subscription of a domain the registry no longer holds, after `last_day`
    (call in the transaction that marks it deleted); "" or, when the shop refuses, why
    (the registry's deletion stands; the subscription is then for staff)."""
    from kluis.shop.services import ShopError, subscription_stop

    subscription_id = shop_link.subscription_of(registration.line)
    if subscription_id is None:
        return ""
    try:
        with transaction.atomic():
            subscription_stop(
                subscription_id=subscription_id, last_day=last_day, actor_ref=ACTOR.ref
            )
    except ShopError as exc:
        return (_("Abonnement niet beëindigd: %(error)s") % {"error": exc})[:500]
    return ""


def _pending_delete(epp: EppClient, name: str, refusal: EppCommandFailed) -> bool:
    """A delete refused (2304) because the domain is already being deleted."""
    if refusal.code != codes.STATUS_PROHIBITS:
        return False
    try:
        return "pendingDelete" in epp.domain_info(name).statuses
    except EppCommandFailed:
        return False


def domain_end(
    *, registration: DomainRegistration, session_for: SessionFor = _session
) -> DomainRegistration:
    """Delete an unpaid domain at its registry and end it here; safe to run again."""
    first_period_cover([registration])
    if not unpaid().filter(pk=registration.pk).exists():
        return registration  # paid in time, or no longer registered
    registry = REGISTRIES[registration.registry]
    name = shop_link.domain_of(registration.line)
    with session_for(registry) as epp:
        try:
            epp.domain_delete(name)
        except EppCommandFailed as exc:
            # 2303: deleted by a run that crashed before its commit; at a registry with
            # grace periods (RFC 3915) that delete left it pendingDelete, and a second
            # delete is refused (2304).
            if exc.code != codes.OBJECT_DOES_NOT_EXIST and not _pending_delete(epp, name, exc):
                DomainRegistration.objects.filter(pk=registration.pk).update(
                    last_error=f"{registry.name}: {exc.response.explain()}"[:500]
                )
                log.info("deletion of %s refused: %s", registration.pk, exc.code)
                registration.refresh_from_db()
                return registration
    _after_delete(registration)
    assert registration.expires_on is not None
    expires_on = registration.expires_on
    ended_on = end_day(registration)
    with transaction.atomic():
        locked = DomainRegistration.objects.select_for_update().get(pk=registration.pk)
        if locked.status != DomainRegistration.Status.REGISTERED:
            return locked
        locked.status = DomainRegistration.Status.DELETED
        locked.deleted_at = timezone.now()
        locked.end_reason = DomainRegistration.EndReason.UNPAID
        locked.last_error = ""
        problem = subscription_end(locked, expires_on - dt.timedelta(days=1))
        if problem:
            locked.last_error = problem
        locked.save()
        mail_to_customer(
            locked,
            DELETED,
            PURPOSE,
            {"registration": locked.pk, "expires": ended_on.isoformat()},
            deleted_key(locked),
        )
        audit_append(
            action="domains.deleted",
            actor=ACTOR.ref,
            subject=locked.order.customer_id,
            data={"registration": locked.pk, "registry": registry.key, "reason": "unpaid"},
        )
    return locked


def expiry_run(*, today: dt.date | None = None, session_for: SessionFor = _session) -> str:
    """Notices for unpaid domains, and the end of those whose end day came (the job)."""
    today = today or timezone.localdate()
    noticed = notices_send(today=today)
    deleted = refused = waiting = 0
    ending = unpaid().filter(ending_by(today)).select_related("order__customer", "line")
    for registration in ending[:50]:
        try:
            result = domain_end(registration=registration, session_for=session_for)
        except EppError as exc:
            DomainRegistration.objects.filter(pk=registration.pk).update(last_error=str(exc)[:500])
            waiting += 1
            continue
        if result.status == DomainRegistration.Status.DELETED:
            deleted += 1
        else:
            refused += 1
    return f"{noticed} notices, {deleted} deleted, {refused} refused, {waiting} waiting"
