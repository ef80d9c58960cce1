"""A registry's poll messages about our domains, other than transfers: acted on.

Registries word these messages each their own way (SIDN's `pollData`, a pending-action
notice `<domain:panData>` of RFC 5731 when a pending create, renew or delete completed
or failed, a snapshot `<domain:infData>`, or only a line of text). kluis does not read
the text: a message that names one of our registered domains in one of those elements
makes the poll job ask the registry what is true now (`domain:info`), in the same
session and before the message is acknowledged, and act on that:

- **Gone** (2303): the registry deleted the domain (or a pending create failed). The
  registration becomes "opgeheven" (`end_reason` registry), its subscription stops
  today through the shop's service (what was invoiced after today is credited), the
  customer gets one mail and the domains desk lists it, in one transaction.
- **Another expiry date** than ours (a pending renew completed, a correction by the
  registry): the new date is recorded, audited.
- **Held by another registrar**: left to the transfer messages (trnData).

A message that names no domain of ours, or that the registry's answer leaves
unexplained, is kept and shown on the desk as before. The message row records what
was done (`PollMessage.outcome`); a rerun after a crash before the ack finds the
registration already changed and does nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.audit.chain import audit_append
from kluis.domains import shop_link
from kluis.domains.emails import domain_context, mail_to_customer
from kluis.domains.epp import responses as codes
from kluis.domains.epp.client import EppClient, EppCommandFailed
from kluis.domains.epp.xml import DOMAIN, SIDN
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import Registry
from kluis.mail.kinds import mail_kind
from kluis.policy.enforce import Actor

log = logging.getLogger(__name__)

DELETED_BY_REGISTRY = "domains/email/deleted_by_registry"
PURPOSE = "order_status"

ACTOR = Actor.system("domains")


@mail_kind(template=DELETED_BY_REGISTRY, purpose=PURPOSE, references={"registration"})
def _deleted_context(context: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    return domain_context(context, actor)


# The elements in a poll answer that name the domain a message is about.
_NAMING = (f"{{{DOMAIN}}}panData", f"{{{DOMAIN}}}infData", f"{{{SIDN}}}pollData")


def domain_named(message: codes.Response) -> str:
    """The domain a non-transfer poll message is about, or "" when it names none."""
    places = [el for el in (message.res_data, message.extension) if el is not None]
    if any(place.find(f".//{{{DOMAIN}}}trnData") is not None for place in places):
        return ""  # a transfer: kluis/domains/services.py and transfers.py act on those
    for place in places:
        for tag in _NAMING:
            for found in place.iter(tag):
                name = found.find(f".//{{{DOMAIN}}}name")
                if name is not None and (name.text or "").strip():
                    return (name.text or "").strip().lower()
    return ""


def deleted_by_registry_key(registration: DomainRegistration) -> str:
    return f"domains:deleted-by-registry:{registration.pk}"


def _registered(registry: Registry, name: str) -> list[DomainRegistration]:
    return list(
        DomainRegistration.objects.filter(
            registry=registry.key,
            line_id__in=shop_link.lines_of_domain(name),
            status=DomainRegistration.Status.REGISTERED,
        ).select_related("order", "line")
    )


def _end_by_registry(registration: DomainRegistration, registry: Registry, text: str) -> bool:
    """Opgeheven by the registry: subscription stopped, one mail, on the desk (one
    transaction). False when another run did it already."""
    from kluis.domains.expiry import subscription_end

    with transaction.atomic():
        locked = DomainRegistration.objects.select_for_update().get(pk=registration.pk)
        if locked.status != DomainRegistration.Status.REGISTERED:
            return False
        today = timezone.localdate()
        locked.status = DomainRegistration.Status.DELETED
        locked.deleted_at = timezone.now()
        locked.end_reason = DomainRegistration.EndReason.REGISTRY
        locked.last_error = (
            _("%(registry)s heeft de domeinnaam opgeheven: %(text)s")
            % {"registry": registry.name, "text": text or "-"}
        )[:500]
        problem = subscription_end(locked, today)
        if problem:
            locked.last_error = f"{locked.last_error} {problem}"[:500]
        locked.save()
        mail_to_customer(
            locked,
            DELETED_BY_REGISTRY,
            PURPOSE,
            {"registration": locked.pk},
            deleted_by_registry_key(locked),
        )
        audit_append(
            action="domains.deleted",
            actor=ACTOR.ref,
            subject=locked.order.customer_id,
            data={"registration": locked.pk, "registry": registry.key, "reason": "registry"},
        )
    return True


def _expiry_changed(registration: DomainRegistration, registry: Registry, new: object) -> bool:
    with transaction.atomic():
        locked = DomainRegistration.objects.select_for_update().get(pk=registration.pk)
        if locked.status != DomainRegistration.Status.REGISTERED or locked.expires_on == new:
            return False
        old = locked.expires_on
        DomainRegistration.objects.filter(pk=locked.pk).update(expires_on=new)
        audit_append(
            action="domains.expiry_changed",
            actor=ACTOR.ref,
            subject=locked.order.customer_id,
            data={
                "registration": locked.pk,
                "registry": registry.key,
                "from": old.isoformat() if old else None,
                "to": str(new),
            },
        )
    return True


def notice_act(registry: Registry, epp: EppClient, message: codes.Response) -> str:
    """Act on one non-transfer poll message (before its ack); what was done, or ""."""
    from kluis.domains.services import _local_date

    name = domain_named(message)
    if not name:
        return ""
    ours = _registered(registry, name)
    if not ours:
        return ""
    try:
        info = epp.domain_info(name)
    except EppCommandFailed as exc:
        if exc.code != codes.OBJECT_DOES_NOT_EXIST:
            log.info("poll message on %s: info answered %s", registry.key, exc.code)
            return ""
        ended = sum(_end_by_registry(r, registry, message.queue_message) for r in ours)
        return _("opgeheven door de registry (%(count)s)") % {"count": ended}
    if info.sponsor != epp.endpoint.client_id or info.expires is None:
        return ""
    expires = _local_date(info.expires)
    changed = sum(_expiry_changed(r, registry, expires) for r in ours)
    if changed:
        return _("vervaldatum bijgewerkt naar %(date)s") % {"date": expires.isoformat()}
    return ""
