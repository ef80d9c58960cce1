"""A registered domain's life in the customer's hands: nameservers and the auth code.

- **Nameservers.** The customer gives two to thirteen host names; each is checked
  (IDNA 2008 with UTS 46, label and length rules), host objects are created where the
  registry lacks them, and one domain:update adds the new and removes the old. The
  registry's refusal comes back in its own words; nothing changes here unless the
  registry said yes.
- **Auth code (transfer out).** A request sets a fresh code at the registry, in the
  format that registry's rules demand (`Registry.auth_code`), and queues a mail to the
  account's own address. The mail carries no stored copy of the code: the worker reads
  it from the registry (domain:info, as sponsor) when it renders the mail. One request
  per domain per hour; a second within the hour sends the same mail once.
"""

from __future__ import annotations

import idna
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.domains import shop_link
from kluis.domains.epp.client import EppCommandFailed, EppError
from kluis.domains.models import DomainRegistration
from kluis.domains.registries import REGISTRIES, Registry, auth_code_new
from kluis.domains.services import SessionFor, _ensure_hosts, _session

MIN_NAMESERVERS, MAX_NAMESERVERS = 2, 13


class DomainActionError(Exception):
    """The change was not made; the message says why, for the customer."""


def domains_of(customer: Customer) -> list[DomainRegistration]:
    """The customer's domains at their registries, newest first."""
    return list(
        DomainRegistration.objects.filter(
            order__customer=customer, status=DomainRegistration.Status.REGISTERED
        )
        .select_related("order", "line", "line__extension")
        .order_by("-registered_at")
    )


def domain_of_customer(customer: Customer, registration_id: int) -> DomainRegistration | None:
    return (
        DomainRegistration.objects.filter(
            pk=registration_id,
            order__customer=customer,
            status=DomainRegistration.Status.REGISTERED,
        )
        .select_related("order__customer", "line", "line__extension")
        .first()
    )


def nameservers_clean(raw: str) -> list[str]:
    """Host names from one per line (or comma separated), as A-labels, in order."""
    names: list[str] = []
    for part in raw.replace(",", "\n").splitlines():
        name = part.strip().rstrip(".").lower()
        if not name:
            continue
        try:
            ascii_name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise DomainActionError(
                _("%(name)s is geen geldige naam van een naamserver.") % {"name": name[:80]}
            ) from None
        if ascii_name.count(".") < 1 or len(ascii_name) > 253:
            raise DomainActionError(
                _("%(name)s is geen volledige naam van een naamserver (zoals ns1.voorbeeld.nl).")
                % {"name": name[:80]}
            )
        if ascii_name not in names:
            names.append(ascii_name)
    if not MIN_NAMESERVERS <= len(names) <= MAX_NAMESERVERS:
        raise DomainActionError(
            _("Geef minstens %(min)s en hoogstens %(max)s verschillende naamservers.")
            % {"min": MIN_NAMESERVERS, "max": MAX_NAMESERVERS}
        )
    return names


def _registry_words(registry: Registry, exc: EppError) -> str:
    if isinstance(exc, EppCommandFailed):
        return _("%(registry)s weigerde de wijziging: %(reason)s") % {
            "registry": registry.name,
            "reason": exc.response.explain(),
        }
    return _("%(registry)s is nu niet bereikbaar. Probeer het later opnieuw.") % {
        "registry": registry.name
    }


def nameservers_change(
    *,
    registration: DomainRegistration,
    nameservers: list[str],
    by: User,
    session_for: SessionFor = _session,
) -> DomainRegistration:
    registry = REGISTRIES[registration.registry]
    name = shop_link.domain_of(registration.line)
    old = list(registration.nameservers)
    try:
        with session_for(registry) as epp:
            _ensure_hosts(epp, nameservers)
            epp.domain_update(
                name=name,
                add_ns=[h for h in nameservers if h not in old],
                remove_ns=[h for h in old if h not in nameservers],
            )
    except EppError as exc:
        raise DomainActionError(_registry_words(registry, exc)) from exc
    with transaction.atomic():
        DomainRegistration.objects.filter(pk=registration.pk).update(nameservers=nameservers)
        audit_append(
            action="domains.nameservers_changed",
            actor=f"user:{by.pk}",
            subject=registration.order.customer_id,
            data={"registration": registration.pk, "registry": registry.key},
        )
    registration.nameservers = nameservers
    return registration


def auth_code_request(
    *, registration: DomainRegistration, by: User, session_for: SessionFor = _session
) -> None:
    """Set a fresh code at the registry and mail it to the account's own address."""
    from kluis.domains.emails import mail_auth_code
    from kluis.mail.models import OutboxMessage

    registry = REGISTRIES[registration.registry]
    hour = timezone.now().strftime("%Y%m%d%H")
    key = f"domains:authcode:{registration.pk}:{hour}"
    if OutboxMessage.objects.filter(dedupe_key=key).exists():
        return  # asked within the hour: that mail holds the current code
    name = shop_link.domain_of(registration.line)
    try:
        with session_for(registry) as epp:
            epp.domain_update(name=name, auth_pw=auth_code_new(registry))
    except EppError as exc:
        raise DomainActionError(_registry_words(registry, exc)) from exc
    with transaction.atomic():
        mail_auth_code(registration, dedupe_key=key)
        audit_append(
            action="domains.auth_code_requested",
            actor=f"user:{by.pk}",
            subject=registration.order.customer_id,
            data={"registration": registration.pk, "registry": registry.key},
        )
