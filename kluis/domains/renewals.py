"""Renewing a domain at its registry once its renewal invoice is paid.

- **Queue.** Billing tells the domains app of every paid invoice (its paid handler,
  inside the payment's transaction). Each subscription period on that invoice whose
  line is a registered domain becomes one DomainRenewal (unique per registration and
  period), so a payment heard twice renews once. An unpaid renewal invoice queues
  nothing: the domain is not renewed.
- **Renew.** The job reads the registry's own expiry with <info> and sends <renew>
  with that date as curExpDate (RFC 5731 §3.2.3), one year (the registry's period
  rules allow it, or the renewal fails with that reason).
- **Crashes.** A run killed after the registry's yes but before our commit finds, on
  its next run, a registry expiry past the one we had: it completes instead of
  renewing twice.
- **Refused.** A registry that refuses the <renew> (one not known to renew by itself)
  is asked for the domain with <info>: an expiry past ours
  is the registry's own renewal, recorded as our expiry and the renewal closed as done
  by the registry, audited, in one transaction, so the next unpaid term is judged from
  the real date. Otherwise (or when <info> fails too) the renewal fails onto the desk
  with the registry's words.
- **Registries that renew by themselves** (`Registry.renews_itself`: SIDN, DNS
  Belgium, DENIC) take no <renew>: the registry renews a domain at its expiry unless
  the registrar deleted it before. A paid term there sends nothing: the renewal is
  closed as paid ("betaald, de registry verlengt zelf"). Once the registry's expiry
  has passed, the job reads the domain with <info>: a later date is the registry's
  renewal, recorded as above (`domains.renewed_by_registry`). An <info> that still
  shows the old date BY_REGISTRY_WAIT_DAYS after the expiry, or that is refused, fails
  the renewal onto the desk with the registry's words.
- **Ledger.** A renewal sends the registry no personal data but the domain name it
  already holds; it is audited (`domains.renewed`), not a new disclosure.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.audit.chain import audit_append
from kluis.domains import shop_link
from kluis.domains.epp.client import EppClient, EppCommandFailed, EppError
from kluis.domains.models import DomainRegistration, DomainRenewal
from kluis.domains.registries import REGISTRIES, Registry
from kluis.domains.services import ACTOR, SessionFor, _local_date, _session

if TYPE_CHECKING:
    from kluis.billing.models import Invoice

log = logging.getLogger(__name__)
YEARS = 1
# At a registry that renews by itself: an <info> that still shows the old expiry this
# many days after it goes to the desk (before, the registry may not have booked it yet).
BY_REGISTRY_WAIT_DAYS = 3


def renewals_queue_for(invoices: Sequence[Invoice]) -> int:
    """Queue a renewal for each registered domain's period on `invoices` (paid)."""
    periods = shop_link.paid_periods([i.number for i in invoices])
    registrations = {
        r.line_id: r
        for r in DomainRegistration.objects.filter(
            line_id__in=[line for line, _start, _number in periods],
            status=DomainRegistration.Status.REGISTERED,
        )
    }
    queued = 0
    for line, period_start, number in periods:
        registration = registrations.get(line)
        if registration is None:
            continue  # not a domain, or not registered
        _, created = DomainRenewal.objects.get_or_create(
            registration=registration,
            period_start=period_start,
            defaults={"invoice_number": number, "expires_before": registration.expires_on},
        )
        queued += created
    return queued


def _on_paid(invoice: Invoice) -> None:
    renewals_queue_for([invoice])


def _on_paid_many(invoices: Sequence[Invoice]) -> None:
    renewals_queue_for(invoices)


def connect() -> None:
    from kluis.billing.settlement import register_paid_handler

    register_paid_handler(_on_paid, many=_on_paid_many)


def _fail(renewal: DomainRenewal, message: str) -> None:
    DomainRenewal.objects.filter(pk=renewal.pk).update(
        status=DomainRenewal.Status.FAILED, last_error=message[:500]
    )


def _after_renew(renewal: DomainRenewal) -> None:
    """The moment between the registry's yes and our commit (tests crash here)."""


def _renewed_by_registry(
    epp: EppClient, name: str, registration: DomainRegistration
) -> dt.date | None:
    """After a refused <renew>: the registry's expiry when it lies past ours (it renewed
    the domain by itself), else None; an <info> that fails too is None."""
    try:
        info = epp.domain_info(name)
    except EppError as exc:
        log.info("info after a refused renewal of %s failed: %s", registration.pk, exc)
        return None
    if info.expires is None:
        return None
    at_registry = _local_date(info.expires)
    current = (
        DomainRegistration.objects.filter(pk=registration.pk)
        .values_list("expires_on", flat=True)
        .first()
    )
    if current is not None and at_registry <= current:
        return None
    return at_registry


def _close_by_registry(renewal: DomainRenewal, expires: dt.date, refusal: str) -> DomainRenewal:
    """Record the registry's own renewal: its date as ours, the renewal done by it."""
    with transaction.atomic():
        locked = DomainRenewal.objects.select_for_update().get(pk=renewal.pk)
        if locked.status not in (DomainRenewal.Status.PENDING, DomainRenewal.Status.AWAITING):
            return locked
        registration = DomainRegistration.objects.select_for_update().get(pk=locked.registration_id)
        before = registration.expires_on
        locked.status = DomainRenewal.Status.BY_REGISTRY
        locked.expires_after = expires
        locked.renewed_at = timezone.now()
        locked.last_error = refusal[:500]
        locked.save()
        registration.expires_on = expires
        registration.save(update_fields=["expires_on"])
        audit_append(
            action="domains.renewed_by_registry",
            actor=ACTOR.ref,
            subject=registration.order.customer_id,
            data={
                "registration": registration.pk,
                "registry": registration.registry,
                "expires_before": before.isoformat() if before else None,
                "expires_after": expires.isoformat(),
            },
        )
    log.info("renewal %s: the registry renewed by itself", renewal.pk)
    return locked


def _left_to_registry(
    renewal: DomainRenewal, registry: Registry, session_for: SessionFor, today: dt.date
) -> DomainRenewal:
    """A paid period at a registry that renews by itself: no <renew>. Up to its expiry
    the renewal waits, paid; after it, <info> reads the registry's new date."""
    registration = renewal.registration
    expiry = renewal.expires_before or registration.expires_on
    awaiting = DomainRenewal.objects.filter(pk=renewal.pk, status=DomainRenewal.Status.PENDING)
    if expiry is None or today <= expiry:
        awaiting.update(status=DomainRenewal.Status.AWAITING)
        renewal.refresh_from_db()
        return renewal
    name = shop_link.domain_of(registration.line)
    with session_for(registry) as epp:
        try:
            info = epp.domain_info(name)
        except EppCommandFailed as exc:
            _fail(renewal, f"{registry.name}: {exc.response.explain()}")
            renewal.refresh_from_db()
            return renewal
    at_registry = _local_date(info.expires) if info.expires is not None else None
    if at_registry is not None and at_registry > expiry:
        return _close_by_registry(renewal, at_registry, "")
    if today < expiry + dt.timedelta(days=BY_REGISTRY_WAIT_DAYS):
        DomainRenewal.objects.filter(pk=renewal.pk).update(checked_on=today)
        renewal.refresh_from_db()
        return renewal
    _fail(
        renewal,
        _(
            "%(registry)s heeft de naam niet zelf verlengd: %(days)s dagen na de "
            "verloopdatum toont <info> als verloopdatum %(expires)s (status: %(statuses)s)."
        )
        % {
            "registry": registry.name,
            "days": (today - expiry).days,
            "expires": at_registry.isoformat() if at_registry else "—",
            "statuses": ", ".join(info.statuses) or "—",
        },
    )
    log.info("renewal %s: the registry shows no renewal after its expiry", renewal.pk)
    renewal.refresh_from_db()
    return renewal


def domain_renew(
    *,
    renewal: DomainRenewal,
    session_for: SessionFor = _session,
    today: dt.date | None = None,
) -> DomainRenewal:
    """Renew one paid period; EppError (unreachable) leaves it pending."""
    registration = renewal.registration
    registry = REGISTRIES[registration.registry]
    if registry.renews_itself:
        return _left_to_registry(renewal, registry, session_for, today or timezone.localdate())
    if not registry.period_allowed(YEARS):
        _fail(renewal, f"{registry.name}: {YEARS} jaar is niet toegestaan")
        return renewal
    name = shop_link.domain_of(registration.line)
    with session_for(registry) as epp:
        try:
            info = epp.domain_info(name)
            if info.expires is None:
                raise EppError(f"{registry.name} gave no expiry date for the domain")
            at_registry = _local_date(info.expires)
            if renewal.expires_before is not None and at_registry > renewal.expires_before:
                new_expiry: dt.date = at_registry  # renewed by a run that crashed after
            else:
                utc_date = (
                    info.expires.astimezone(dt.UTC).date()
                    if info.expires.tzinfo
                    else (info.expires.date())
                )
                renewed = epp.domain_renew(name=name, current_expiry=utc_date, years=YEARS)
                if renewed is None:
                    raise EppError(f"{registry.name} gave no new expiry date")
                new_expiry = _local_date(renewed)
        except EppCommandFailed as exc:
            refusal = f"{registry.name}: {exc.response.explain()}"
            later = _renewed_by_registry(epp, name, registration)
            if later is None:
                _fail(renewal, refusal)
                log.info("renewal %s failed: %s", renewal.pk, exc.code)
                renewal.refresh_from_db()
                return renewal
            return _close_by_registry(renewal, later, refusal)
    _after_renew(renewal)
    with transaction.atomic():
        locked = DomainRenewal.objects.select_for_update().get(pk=renewal.pk)
        if locked.status in (DomainRenewal.Status.RENEWED, DomainRenewal.Status.BY_REGISTRY):
            return locked
        locked.status = DomainRenewal.Status.RENEWED
        locked.expires_after = new_expiry
        locked.renewed_at = timezone.now()
        locked.last_error = ""
        locked.save()
        DomainRegistration.objects.filter(pk=registration.pk).update(expires_on=new_expiry)
        audit_append(
            action="domains.renewed",
            actor=ACTOR.ref,
            subject=registration.order.customer_id,
            data={"registration": registration.pk, "registry": registry.key, "years": YEARS},
        )
    return locked


def renewals_run(
    *, limit: int = 50, session_for: SessionFor = _session, today: dt.date | None = None
) -> str:
    """Renew what was paid, and read the registry's own renewal of what it renews by
    itself once its expiry has passed (the worker's job); a one-line outcome without
    names."""
    today = today or timezone.localdate()
    done = failed = waiting = left = 0
    found = DomainRenewal.objects.select_related("registration__order", "registration__line")
    due = [
        *found.filter(status=DomainRenewal.Status.PENDING).order_by("pk")[:limit],
        *found.filter(status=DomainRenewal.Status.AWAITING, expires_before__lt=today)
        .exclude(checked_on__gte=today)
        .order_by("pk")[:limit],
    ]
    for renewal in due:
        try:
            result = domain_renew(renewal=renewal, session_for=session_for, today=today)
        except EppError as exc:
            DomainRenewal.objects.filter(pk=renewal.pk).update(
                attempts=renewal.attempts + 1, last_error=str(exc)[:500]
            )
            waiting += 1
            continue
        if result.status in (DomainRenewal.Status.RENEWED, DomainRenewal.Status.BY_REGISTRY):
            done += 1
        elif result.status == DomainRenewal.Status.AWAITING:
            left += 1
        else:
            failed += 1
    outcome = f"{done} renewed, {failed} failed, {waiting} waiting"
    return f"{outcome}, {left} left to the registry" if left else outcome
