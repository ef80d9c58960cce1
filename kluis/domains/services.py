"""Registering an order's domains at their registries.

The order's move to "in behandeling" queues one DomainRegistration per domain line
(in the move's transaction); the worker's `domains_register` job then registers each
one: the registrant contact (created once per customer and registry, then reused),
the nameservers' host objects where the registry needs them, and the domain.

Three promises:
- **Nothing goes to a registry the policy does not allow.** A non-EU registry gets
  nothing without the order's recorded consent and WHOIS/RDAP notice
  (`_consent_or_refuse`, called before anything is revealed or sent, by every path).
- **Every send is in the ledger.** The contact's data reaching the registry and the
  domain registered in the customer's name are each written to the disclosure ledger
  in the same transaction as the state change they belong to.
- **A crash never registers twice.** Contact handles are derived from the customer,
  so a repeated create answers 2302 and is recognised as ours by `info`; a domain
  created before a crash is found the same way on the next run and completed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer
from kluis.audit.chain import audit_append
from kluis.audit.disclosures import disclosure_record
from kluis.domains import shop_link
from kluis.domains.epp import responses as codes
from kluis.domains.epp.client import EppClient, EppCommandFailed, EppError
from kluis.domains.epp.commands import ContactData, PostalInfo
from kluis.domains.models import DomainRegistration, RegistryContact
from kluis.domains.registries import (
    REGISTRIES,
    Registry,
    UnknownTld,
    pool,
    registry_for,
)
from kluis.policy.enforce import Actor, check_disclosure
from kluis.policy.loader import current_policy

log = logging.getLogger(__name__)

ACTOR = Actor.system("domains")
PURPOSE = "domain_registration"
LEASE = dt.timedelta(minutes=10)

# A session with one registry, for one registration (the pool's by default).
SessionFor = Callable[[Registry], AbstractContextManager[EppClient]]


class RegistrationRefused(Exception):
    """Policy or data stop this registration before anything is sent."""


def _session(registry: Registry) -> AbstractContextManager[EppClient]:
    return pool(registry.key).session()


# --- queueing -------------------------------------------------------------------------


def registrations_queue(*, order: object) -> list[DomainRegistration]:
    """One pending registration per domain line of `order`; call inside the move."""
    from kluis.shop.models import Order

    assert isinstance(order, Order)
    made = []
    for line in shop_link.domain_lines(order):
        try:
            registry = registry_for(shop_link.domain_of(line)).key
            error = ""
        except UnknownTld as exc:
            registry, error = "", _("De extensie .%(tld)s registreren we niet.") % {"tld": exc}
        registration, created = DomainRegistration.objects.get_or_create(
            line=line,
            defaults={
                "order": order,
                "registry": registry,
                "status": DomainRegistration.Status.FAILED
                if error
                else DomainRegistration.Status.PENDING,
                "last_error": error,
            },
        )
        if created:
            made.append(registration)
    return made


def registration_claim(*, registration_id: int, now: dt.datetime | None = None) -> bool:
    """Take a pending registration for LEASE; False when another worker holds it."""
    now = now or timezone.now()
    taken = (
        DomainRegistration.objects.filter(pk=registration_id, status="pending")
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=now + LEASE)
    )
    return taken == 1


# --- what is sent ---------------------------------------------------------------------


def _consent_or_refuse(registration: DomainRegistration, registry: Registry) -> str:
    """The consent reference for a non-EU registry; refuses (and records it) without one."""
    if not registry.outside_eu:
        return ""
    reference = shop_link.non_eu_consent(registration.order)
    if not reference:
        _finish_refused(
            registration,
            _(
                "Geen toestemming voor een registry buiten de EU vastgelegd bij deze bestelling; "
                "er is niets verstuurd."
            ),
        )
        raise RegistrationRefused(f"no recorded consent for {registry.name}")
    return reference


def _phone(raw: str, country: str) -> str:
    """+CC.NUMBER (RFC 5733 e164), or "" when it is not a phone number."""
    try:
        number = phonenumbers.parse(raw, country or "NL")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return f"+{number.country_code}.{number.national_number}"


def _contact_handle(customer: Customer) -> str:
    # Derived, not random: a create repeated after a crash meets its own handle (2302).
    return f"KL-{customer.number}"[:16]


def _contact_for(customer: Customer, registry: Registry) -> tuple[ContactData, list[str]]:
    """What the registry gets, revealed for domain registration, and its categories."""

    def reveal(value: object) -> str:
        if value is None:
            return ""
        return str(value.reveal(purpose=PURPOSE, actor=ACTOR)).strip()  # type: ignore[attr-defined]

    name = reveal(customer.name)
    company = reveal(customer.company_name)
    street = reveal(customer.address_street)
    postcode = reveal(customer.address_postcode)
    city = reveal(customer.address_city)
    email = reveal(customer.email)
    phone = _phone(reveal(customer.phone), customer.country)
    kvk = reveal(customer.kvk_number) if registry.legal_form and company else ""
    present = {
        "name": name,
        "street": street,
        "city": city,
        "postcode": postcode,
        "country": customer.country,
        "email": email,
        "voice": phone,
    }
    missing = sorted(f for f in registry.required_contact_fields if not present.get(f))
    if missing:
        raise RegistrationRefused(", ".join(missing))
    if registry.registrant_countries is not None and customer.country not in (
        registry.registrant_countries
    ):
        raise RegistrationRefused(f"country {customer.country}")
    categories = ["user.name", "user.contact.address", "user.contact.email"]
    if phone:
        categories.append("user.contact.phone_number")
    if company:
        categories.append("user.contact.organization")
    legal_form = ""
    if registry.legal_form:
        # SIDN's legal forms; kluis does not ask for the exact form yet, so a company
        # is registered as ANDERS with its KvK number.
        legal_form = "ANDERS" if company else "PERSOON"
        if kvk:
            categories.append("kluis.kvk_number")
    data = ContactData(
        handle=_contact_handle(customer),
        postal=PostalInfo(
            name=name,
            org=company,
            street=[street],
            city=city,
            postcode=postcode,
            country=customer.country,
        ),
        email=email,
        voice=phone,
        legal_form=legal_form,
        legal_form_reg_no=kvk,
    )
    return data, sorted(categories)


def _reference(registration: DomainRegistration, consent: str) -> str:
    order = registration.order
    return f"order:{order.number}" + (f" {consent}" if consent else "")


def _ensure_contact(
    epp: EppClient,
    registration: DomainRegistration,
    registry: Registry,
    data: ContactData,
    categories: list[str],
    reference: str,
) -> RegistryContact:
    customer_id = registration.order.customer_id
    if registry.contact_reusable:
        known = RegistryContact.objects.filter(
            customer_id=customer_id, registry=registry.key
        ).first()
        if known is not None:
            return known
    try:
        epp.contact_create(data)
    except EppCommandFailed as exc:
        if exc.code != codes.OBJECT_EXISTS:
            raise
        # Ours from a run that crashed before its commit, or someone else's handle.
        info = epp.contact_info(data.handle)
        if info.sponsor != epp.endpoint.client_id:
            raise
    with transaction.atomic():
        contact, _created = RegistryContact.objects.get_or_create(
            registry=registry.key, handle=data.handle, defaults={"customer_id": customer_id}
        )
        disclosure_record(
            subject=customer_id,
            recipient=registry.recipient,
            purpose=PURPOSE,
            categories=categories,
            actor=ACTOR,
            reference=reference,
        )
    return contact


def _ensure_hosts(epp: EppClient, nameservers: list[str]) -> None:
    """Host objects for our nameservers, where the registry does not have them yet."""
    for host, available in epp.host_check(nameservers).items():
        if available:
            with contextlib.suppress(EppCommandFailed):
                epp.host_create(host)


def _own_contact(epp: EppClient, registry: Registry) -> str:
    """The registrar's own admin/tech contact (the controller's business details)."""
    handle = "KL-REGISTRAR"
    try:
        epp.contact_info(handle)
        return handle
    except EppCommandFailed as exc:
        if exc.code != codes.OBJECT_DOES_NOT_EXIST:
            raise
    controller = current_policy().controller
    kvk = controller.kvk_number or settings.KLUIS_KVK_NUMBER
    if registry.legal_form and not kvk:
        if epp.endpoint.host not in ("127.0.0.1", "localhost"):
            raise RegistrationRefused("KLUIS_KVK_NUMBER is needed for our own registry contact")
        kvk = "00000000"  # development against the local registry only
    epp.contact_create(
        ContactData(
            handle=handle,
            postal=PostalInfo(
                name=controller.trade_name,
                org=controller.name,
                street=[controller.address.street],
                city=controller.address.city,
                postcode=controller.address.postcode,
                country=controller.address.country,
            ),
            email=controller.email,
            voice=_phone(controller.phone, controller.address.country),
            legal_form="BV" if registry.legal_form else "",
            legal_form_reg_no=kvk if registry.legal_form else "",
            auth_pw=secrets.token_hex(8),
        )
    )
    return handle


# --- the registration ----------------------------------------------------------------


def _finish_refused(registration: DomainRegistration, message: str) -> None:
    with transaction.atomic():
        DomainRegistration.objects.filter(pk=registration.pk).update(
            status=DomainRegistration.Status.REFUSED, last_error=message[:500], leased_until=None
        )
        audit_append(
            action="domains.registration_refused",
            actor=ACTOR.ref,
            subject=registration.order.customer_id,
            data={"registration": registration.pk, "registry": registration.registry},
        )
    registration.status = DomainRegistration.Status.REFUSED
    registration.last_error = message[:500]


def _finish_failed(registration: DomainRegistration, message: str) -> None:
    DomainRegistration.objects.filter(pk=registration.pk).update(
        status=DomainRegistration.Status.FAILED, last_error=message[:500], leased_until=None
    )
    registration.status = DomainRegistration.Status.FAILED
    registration.last_error = message[:500]


def _after_create(registration: DomainRegistration) -> None:
    """The moment between the registry's yes and our commit (tests crash here)."""


def domain_register(
    *, registration: DomainRegistration, session_for: SessionFor = _session
) -> DomainRegistration:
    """Register one pending domain; safe to run again after any crash.

    Raises RegistrationRefused when policy or the customer's data stop it (the
    registration is marked refused or failed, nothing is sent), EppError when the
    registry cannot be reached (the registration stays pending for the next run).
    """
    registry = REGISTRIES[registration.registry]
    name = shop_link.domain_of(registration.line)
    consent = _consent_or_refuse(registration, registry)
    customer = shop_link.customer_of(registration.order)
    if not registry.period_allowed(1):
        _finish_failed(registration, f"{registry.name}: 1 jaar is niet toegestaan")
        raise RegistrationRefused("period")
    try:
        data, categories = _contact_for(customer, registry)
    except RegistrationRefused as exc:
        _finish_failed(
            registration,
            _("Gegevens ontbreken of passen niet bij %(registry)s: %(what)s")
            % {"registry": registry.name, "what": exc},
        )
        raise
    check_disclosure(recipient=registry.recipient, purpose=PURPOSE, categories=categories)
    reference = _reference(registration, consent)
    nameservers = list(settings.KLUIS_EPP_NAMESERVERS)
    with session_for(registry) as epp:
        try:
            contact = _ensure_contact(epp, registration, registry, data, categories, reference)
            _ensure_hosts(epp, nameservers)
            helper = _own_contact(epp, registry) if registry.admin_tech else ""
            auth_pw = secrets.token_urlsafe(12)[:16]
            try:
                created = epp.domain_create(
                    name=name,
                    years=1,
                    registrant=contact.handle,
                    auth_pw=auth_pw,
                    nameservers=nameservers,
                    admin=helper,
                    tech=helper,
                )
                expires, roid = created.expires, ""
            except EppCommandFailed as exc:
                if exc.code != codes.OBJECT_EXISTS:
                    raise
                info = epp.domain_info(name)
                if info.sponsor != epp.endpoint.client_id or info.registrant != contact.handle:
                    raise
                # Created by a run that crashed before its commit: complete it.
                expires, roid = info.expires, info.roid
        except EppCommandFailed as exc:
            _finish_failed(registration, f"{registry.name}: {exc.response.explain()}")
            log.info("registration %s failed: %s", registration.pk, exc.code)
            return registration
    _after_create(registration)
    with transaction.atomic():
        locked = DomainRegistration.objects.select_for_update().get(pk=registration.pk)
        if locked.status == DomainRegistration.Status.REGISTERED:
            return locked
        locked.status = DomainRegistration.Status.REGISTERED
        locked.contact = contact
        locked.roid = roid
        locked.expires_on = expires.date() if expires else None
        locked.registered_at = timezone.now()
        locked.leased_until = None
        locked.last_error = ""
        locked.save()
        disclosure_record(
            subject=customer.id,
            recipient=registry.recipient,
            purpose=PURPOSE,
            categories=categories,
            actor=ACTOR,
            reference=f"{reference} domain:{name}",
        )
    return locked


def registrations_run(*, limit: int = 50, session_for: SessionFor = _session) -> str:
    """Register what is pending (the worker's job); a one-line outcome without names."""
    done = failed = waiting = 0
    ids = list(DomainRegistration.objects.pending().values_list("pk", flat=True)[:limit])
    for pk in ids:
        if not registration_claim(registration_id=pk):
            continue
        registration = DomainRegistration.objects.select_related("order", "line").get(pk=pk)
        try:
            result = domain_register(registration=registration, session_for=session_for)
        except RegistrationRefused:
            failed += 1
            continue
        except EppError as exc:
            DomainRegistration.objects.filter(pk=pk).update(
                attempts=registration.attempts + 1,
                last_error=str(exc)[:500],
                leased_until=None,
            )
            waiting += 1
            continue
        if result.status == DomainRegistration.Status.REGISTERED:
            done += 1
        else:
            failed += 1
    return f"{done} registered, {failed} failed or refused, {waiting} waiting"


@contextlib.contextmanager
def session_from(client: EppClient) -> Iterator[EppClient]:
    """A SessionFor over one open client (tests and benchmarks)."""
    yield client
