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
import dataclasses
import datetime as dt
import itertools
import logging
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import phonenumbers
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer, User
from kluis.audit.chain import audit_append
from kluis.audit.disclosures import Sent, disclosures_insert, disclosures_record
from kluis.domains import notices, shop_link
from kluis.domains.emails import Cause, mail_registration_failed
from kluis.domains.epp import commands as cmd
from kluis.domains.epp import responses as codes
from kluis.domains.epp.client import EppClient, EppCommandFailed, EppError, Steps, answer_data
from kluis.domains.epp.commands import ContactData, PostalInfo
from kluis.domains.epp.pipeline import Ended, Pipeline
from kluis.domains.epp.xml import DOMAIN
from kluis.domains.models import DomainRegistration, PollMessage, RegistryContact
from kluis.domains.registries import (
    REGISTRIES,
    Registry,
    UnknownTld,
    auth_code_new,
    pool,
    registry_for,
    sidn_legal_form,
)
from kluis.policy.enforce import Actor, check_disclosure
from kluis.policy.loader import current_policy
from kluis.rows import bound_cursor, rows_insert, unnest
from kluis.vault.reveal import reveal_many

if TYPE_CHECKING:
    from kluis.shop.models import OrderLine

log = logging.getLogger(__name__)

ACTOR = Actor.system("domains")
PURPOSE = "domain_registration"
LEASE = dt.timedelta(minutes=10)
# A run writes the records of accepted registrations this many at a time, or once the
# oldest has waited this many seconds: one commit for many domains instead of one each.
# The records are written after the sends, so no transaction waits on a registry.
FLUSH_EVERY = 50
FLUSH_SECONDS = 1.0
POLL_BATCH = 100  # messages read from one registry per run
# A registry's refusal under its own rules (policy, syntax, parameters).
_RULES_REFUSED = {2003, 2004, 2005, 2306}

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
    from kluis.domains.models import TransferCode

    made = []
    for line in shop_link.domain_lines(order):
        kind = (
            DomainRegistration.Kind.TRANSFER
            if TransferCode.objects.filter(line=line).exists()
            else DomainRegistration.Kind.REGISTER
        )
        try:
            registry = registry_for(f".{shop_link.tld_of(line)}").key
            error = ""
        except UnknownTld as exc:
            registry, error = "", _("De extensie .%(tld)s registreren we niet.") % {"tld": exc}
        registration, created = DomainRegistration.objects.get_or_create(
            line=line,
            defaults={
                "order": order,
                "kind": kind,
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


def registrations_claim(
    *, limit: int, now: dt.datetime | None = None, kind: str = DomainRegistration.Kind.REGISTER
) -> list[int]:
    """Take up to `limit` pending registrations (or transfers) for LEASE, in one UPDATE.

    A worker sees only the rows it marked with its own token, so two workers never
    take the same registration; one that dies leaves them to the next after LEASE.
    """
    now = now or timezone.now()
    token = secrets.token_hex(8)
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    waiting = DomainRegistration.objects.pending().filter(free, kind=kind)
    ids = list(waiting.values_list("pk", flat=True)[:limit])
    waiting.filter(pk__in=ids).update(leased_until=now + LEASE, leased_by=token)
    return list(
        DomainRegistration.objects.filter(leased_by=token, pk__in=ids).values_list("pk", flat=True)
    )


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


def _contact_handle(
    customer: Customer, registry: Registry, registration: DomainRegistration
) -> str:
    # Derived, not random: a create repeated after a crash meets its own handle (2302).
    # Where a registry wants a contact per domain, the registration names it.
    if not registry.contact_reusable:
        return f"{registry.handle_prefix}R{registration.pk}"[:16]
    return f"{registry.handle_prefix}{customer.number}"[:16]


CONTACT_FIELDS = (
    "name",
    "company_name",
    "address_street",
    "address_postcode",
    "address_city",
    "email",
    "phone",
    "kvk_number",
)


def reveal_contacts(customers: list[Customer]) -> dict[object, dict[str, str]]:
    """The contact fields of each customer, revealed for domain registration at once."""
    if not customers:
        return {}
    with transaction.atomic():
        rows = reveal_many(customers, CONTACT_FIELDS, purpose=PURPOSE, actor=ACTOR)
    return {
        c.pk: {k: (v or "").strip() for k, v in row.items()}
        for c, row in zip(customers, rows, strict=True)
    }


def _categories(customer: Customer, registry: Registry) -> list[str]:
    """The categories a contact of `customer` carries, from which fields are filled."""
    categories = ["user.name", "user.contact.address", "user.contact.email"]
    if customer.phone is not None:
        categories.append("user.contact.phone_number")
    if customer.company_name is not None:
        categories.append("user.contact.organization")
        if registry.legal_form and customer.kvk_number is not None:
            categories.append("kluis.kvk_number")
    return sorted(categories)


def _contact_for(
    customer: Customer, registry: Registry, plain: dict[str, str], handle: str
) -> ContactData:
    """What the registry gets; RegistrationRefused when it lacks what the registry needs."""
    company = plain.get("company_name", "")
    phone = _phone(plain.get("phone", ""), customer.country)
    present = {
        "name": plain.get("name", ""),
        "street": plain.get("address_street", ""),
        "city": plain.get("address_city", ""),
        "postcode": plain.get("address_postcode", ""),
        "country": customer.country,
        "email": plain.get("email", ""),
        "voice": phone,
    }
    missing = sorted(f for f in registry.required_contact_fields if not present.get(f))
    if missing:
        raise RegistrationRefused(", ".join(missing))
    if registry.registrant_countries is not None and customer.country not in (
        registry.registrant_countries
    ):
        raise RegistrationRefused(f"country {customer.country}")
    legal_form = kvk = ""
    if registry.legal_form:
        # SIDN's legal form, as the customer chose it in the account, else read from the
        # company's legal name (ANDERS where it does not say), with its KvK number;
        # PERSOON for a person.
        legal_form = sidn_legal_form(
            company=company, country=customer.country, chosen=customer.legal_form
        )
        kvk = plain.get("kvk_number", "") if company else ""
    return ContactData(
        handle=handle,
        postal=PostalInfo(
            name=present["name"],
            org=company,
            street=[present["street"]],
            city=present["city"],
            postcode=present["postcode"],
            country=customer.country,
        ),
        email=present["email"],
        voice=phone,
        legal_form=legal_form,
        legal_form_reg_no=kvk,
    )


def _reference(registration: DomainRegistration, consent: str) -> str:
    order = registration.order
    return f"order:{order.number}" + (f" {consent}" if consent else "")


def _known_contact(registration: DomainRegistration, registry: Registry) -> RegistryContact | None:
    if not registry.contact_reusable:
        return None
    return RegistryContact.objects.filter(
        customer_id=registration.order.customer_id, registry=registry.key, deleted_at=None
    ).first()


def _send_contact(epp: EppClient, data: ContactData) -> None:
    """Create the contact; one of ours left by a crashed run counts as created."""
    epp.drive(_contact_steps(data, epp.endpoint.client_id, epp.speaks_sidn))


def _record_contact_sent(
    registration: DomainRegistration,
    registry: Registry,
    handle: str,
    categories: list[str],
    reference: str,
) -> RegistryContact:
    """The contact's row and its disclosure; call inside the state change's transaction."""
    contact = _contact_row(registration, registry, handle)
    ledger_send(registration.order.customer_id, registry, categories, reference)
    return contact


def _contact_row(
    registration: DomainRegistration, registry: Registry, handle: str
) -> RegistryContact:
    """The row of a contact we sent to `registry`, made live again if it was deleted."""
    contact, _created = RegistryContact.objects.get_or_create(
        registry=registry.key,
        handle=handle,
        defaults={"customer_id": registration.order.customer_id},
    )
    if contact.deleted_at is not None:  # created anew after it was deleted there
        RegistryContact.objects.filter(pk=contact.pk).update(deleted_at=None)
        contact.deleted_at = None
    return contact


def _registry_send(
    subject: uuid.UUID, registry: Registry, categories: list[str], reference: str
) -> Sent:
    return Sent(subject, registry.recipient, PURPOSE, categories, ACTOR, reference)


def ledger_send(
    subject: uuid.UUID, registry: Registry, categories: list[str], reference: str
) -> None:
    """One send of a person's data to a registry, in the disclosure ledger."""
    disclosures_record([_registry_send(subject, registry, categories, reference)])


def _ensure_hosts(epp: EppClient, nameservers: list[str]) -> None:
    """Host objects for our nameservers, where the registry does not have them yet."""
    for host, available in epp.host_check(nameservers).items():
        if available:
            with contextlib.suppress(EppCommandFailed):
                epp.host_create(host)


def _own_contact(epp: EppClient, registry: Registry) -> str:
    """The registrar's own admin/tech contact (the controller's business details)."""
    handle = f"{registry.handle_prefix}REGISTRAR"
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
            legal_form=sidn_legal_form(company=controller.name, country=controller.address.country)
            if registry.legal_form
            else "",
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


def _cause(exc: EppCommandFailed) -> str:
    if exc.code == codes.OBJECT_EXISTS:
        return Cause.TAKEN
    if exc.code in _RULES_REFUSED:
        return Cause.REJECTED
    return Cause.OTHER


def _finish_failed(
    registration: DomainRegistration,
    message: str,
    *,
    cause: str,
    contact_sent: ContactSent | None = None,
) -> None:
    """Mark it failed with the registry's words, and mail the customer (once ever).

    A transfer's auth code is deleted with it: a new try needs a new code.
    """
    from kluis.domains.models import TransferCode

    with transaction.atomic():
        if contact_sent is not None:
            _record_contact_sent(registration, *contact_sent)
        DomainRegistration.objects.filter(pk=registration.pk).update(
            status=DomainRegistration.Status.FAILED,
            last_error=message[:500],
            leased_until=None,
        )
        mail_registration_failed(registration, cause)
        if registration.is_transfer:
            TransferCode.objects.filter(line_id=registration.line_id).delete()
            audit_append(
                action="domains.transfer_failed",
                actor=ACTOR.ref,
                subject=registration.order.customer_id,
                data={"registration": registration.pk, "registry": registration.registry},
            )
    registration.status = DomainRegistration.Status.FAILED
    registration.last_error = message[:500]


def _preflight(
    registration: DomainRegistration, registry: Registry, batch: Batch | None = None
) -> tuple[str, Customer, str]:
    """(consent reference, customer, domain name), or RegistrationRefused (recorded).

    The order's status is read anew here, or with a `batch` by the run just before the
    group of registrations this one belongs to (orders_reread).
    """
    if batch is None:
        registration.order.refresh_from_db(fields=["status"])
    if not shop_link.still_wanted(registration.order):
        _finish_refused(
            registration,
            _("De bestelling is geannuleerd of herroepen; er is niets verstuurd."),
        )
        raise RegistrationRefused("the order was cancelled or withdrawn")
    consent = _consent_or_refuse(registration, registry)
    customer = shop_link.customer_of(registration.order)
    if not registration.is_transfer and not registry.period_allowed(1):
        _finish_failed(
            registration, f"{registry.name}: 1 jaar is niet toegestaan", cause=Cause.OTHER
        )
        raise RegistrationRefused("period")
    try:
        if batch is not None and registration.line_id in batch.names:
            name = batch.names[registration.line_id] or ""
            if not name:
                raise shop_link.DomainGone(registration.line_id)
        else:
            name = shop_link.domain_of(registration.line)
    except shop_link.DomainGone:
        _finish_refused(
            registration,
            _("De domeinnaam van deze bestelling is niet meer te lezen; er is niets verstuurd."),
        )
        raise RegistrationRefused("the domain name cannot be read") from None
    return consent, customer, name


@dataclasses.dataclass(frozen=True)
class ContactPlan:
    """The registrant contact of one registration: reused (known) or to be sent (data)."""

    categories: list[str]
    reference: str
    known: RegistryContact | None
    handle: str
    data: ContactData | None


def contact_plan(
    registration: DomainRegistration,
    registry: Registry,
    customer: Customer,
    consent: str,
    revealed: dict[object, dict[str, str]] | None,
    batch: Batch | None = None,
) -> ContactPlan:
    """Which contact the registry gets; RegistrationRefused (recorded) when data lack.

    With a `batch`, the run's contacts are looked up in what it read at its start, and a
    contact an earlier registration of the run sent is reused without sending it again.
    """
    categories = _categories(customer, registry)
    check_disclosure(recipient=registry.recipient, purpose=PURPOSE, categories=categories)
    reference = _reference(registration, consent)
    if batch is None:
        known = _known_contact(registration, registry)
    elif registry.contact_reusable:
        known = batch.known.get((customer.pk, registry.key))
    else:
        known = None
    handle = (
        known.handle if known is not None else _contact_handle(customer, registry, registration)
    )
    # Created earlier in this run, its row not written yet: reused, not sent again.
    in_batch = (
        known is None
        and batch is not None
        and registry.contact_reusable
        and batch.contacts.get((customer.pk, registry.key)) == handle
    )
    data: ContactData | None = None
    if known is None and not in_batch:
        # Revealed only when it is going to be sent.
        plain = (revealed or {}).get(customer.pk) or reveal_contacts([customer])[customer.pk]
        try:
            data = _contact_for(customer, registry, plain, handle)
        except RegistrationRefused as exc:
            _finish_failed(
                registration,
                _("Gegevens ontbreken of passen niet bij %(registry)s: %(what)s")
                % {"registry": registry.name, "what": exc},
                cause=Cause.DATA,
            )
            raise
    return ContactPlan(categories, reference, known, handle, data)


# A contact sent to a registry: (registry, handle, categories, reference).
ContactSent = tuple[Registry, str, list[str], str]
T = TypeVar("T")


def with_contact_sent(
    registration: DomainRegistration,
    registry: Registry,
    plan: ContactPlan,
    session_for: SessionFor,
    act: Callable[[EppClient], T],
    cause_of: Callable[[EppCommandFailed], str],
    on_sent: Callable[[ContactSent | None], None] | None = None,
) -> tuple[T, ContactSent | None] | None:
    """In one session: the contact where it is new, then `act`.

    None when the registry refused (the registration is failed with its words, the
    contact's send ledgered if it got that far); EppError when the session broke.
    `on_sent` hears of the contact's send when the registry refused or the session broke.
    """
    sent: ContactSent | None = None
    with session_for(registry) as epp:
        try:
            if plan.data is not None:
                _send_contact(epp, plan.data)
                sent = (registry, plan.handle, plan.categories, plan.reference)
            result = act(epp)
        except EppCommandFailed as exc:
            _finish_failed(
                registration,
                f"{registry.name}: {exc.response.explain()}",
                cause=cause_of(exc),
                contact_sent=sent,
            )
            if on_sent is not None:
                on_sent(sent)
            log.info("registration %s failed: %s", registration.pk, exc.code)
            return None
        except EppError:
            if sent is not None:
                # The contact reached the registry before the session broke.
                with transaction.atomic():
                    _record_contact_sent(registration, *sent)
            if on_sent is not None:
                on_sent(sent)
            raise
    return result, sent


def _after_create(registration: DomainRegistration) -> None:
    """The moment between the registry's yes and our commit (tests crash here)."""


def _registry_ready(
    epp: EppClient, registry: Registry, nameservers: list[str], batch: Batch | None
) -> str:
    """Our nameservers' host objects and our admin/tech contact at the registry (its
    handle, or ""): checked once per run and registry when there is a `batch`."""
    if batch is not None and registry.key in batch.ready:
        return batch.ready[registry.key]
    _ensure_hosts(epp, nameservers)
    helper = _own_contact(epp, registry) if registry.admin_tech else ""
    if batch is not None:
        batch.ready[registry.key] = helper
    return helper


@dataclass
class Accepted:
    """A registration the registry accepted, waiting for its record (records_write)."""

    registration: DomainRegistration
    registry: Registry
    customer_id: uuid.UUID
    handle: str
    # The registrant contact went to the registry with this registration.
    sent: bool
    known: RegistryContact | None
    roid: str
    expires: dt.datetime | None
    nameservers: list[str]
    categories: list[str]
    reference: str
    name: str


def _contact_rows(accepted: list[Accepted]) -> dict[tuple[str, str], int]:
    """The ids of the contact rows the records name, made where missing (one query and
    one insert); a contact sent anew after it was deleted at the registry is live again."""
    rows = {(a.registry.key, a.known.handle): a.known.pk for a in accepted if a.known is not None}
    wanted = {(a.registry.key, a.handle): a.customer_id for a in accepted if a.known is None}
    if not wanted:
        return rows

    def read() -> dict[tuple[str, str], tuple[int, bool]]:
        found = RegistryContact.objects.filter(
            registry__in={k for k, _h in wanted}, handle__in={h for _k, h in wanted}
        ).values_list("registry", "handle", "pk", "deleted_at")
        return {(k, h): (pk, gone is not None) for k, h, pk, gone in found if (k, h) in wanted}

    have = read()
    missing = [k for k in wanted if k not in have]
    if missing:
        now = timezone.now()
        made = rows_insert(
            RegistryContact,
            ("registry", "handle", "customer_id", "created_at"),
            [(k, h, wanted[k, h], now) for k, h in missing],
            # A concurrent run made it: the row is the same.
            skip_conflicts=("registry", "handle"),
        )
        if len(made) == len(missing):
            have |= {key: (pk, False) for key, pk in zip(missing, made, strict=True)}
        else:
            have = read()
    revived = {
        have[a.registry.key, a.handle][0]
        for a in accepted
        if a.known is None and a.sent and have[a.registry.key, a.handle][1]
    }
    if revived:  # created anew after it was deleted there
        RegistryContact.objects.filter(pk__in=revived).update(deleted_at=None)
    return rows | {key: pk for key, (pk, _gone) in have.items()}


def records_write(accepted: list[Accepted]) -> set[int]:
    """The records of accepted registrations and their ledger entries; call inside the
    transaction they share. Returns the ids written.

    One conditional UPDATE (on PostgreSQL from one array per column, elsewhere a CASE
    per column) marks them registered: a registration another run completed meanwhile
    is left alone, and nothing is ledgered twice. Then
    one disclosures_insert for all their sends (one audit-chain append, one insert).
    """
    if not accepted:
        return set()
    contacts = _contact_rows(accepted)
    now = timezone.now()
    by_id = {a.registration.pk: a for a in accepted}
    contact_of = {
        pk: contacts[a.registry.key, a.known.handle if a.known else a.handle]
        for pk, a in by_id.items()
    }
    meta = DomainRegistration._meta
    qn = connection.ops.quote_name

    def model_field(name: str) -> models.Field[Any, Any]:
        found = meta.get_field(name)
        assert isinstance(found, models.Field)
        return found

    def case(column: str, field_name: str, values: list[Any]) -> tuple[str, list[Any]]:
        sql = f"CASE {qn('id')} {' '.join('WHEN %s THEN %s' for _ in values)} END"
        params: list[Any] = []
        for pk, value in zip(by_id, values, strict=True):
            params += [pk, value]
        return f"{qn(column)} = {sql}", params

    def prep(name: str, value: object) -> Any:
        return model_field(name).get_db_prep_save(value, connection)

    sets: list[str] = [
        f"{qn('status')} = %s",
        f"{qn('registered_at')} = %s",
        f"{qn('leased_until')} = NULL",
        f"{qn('last_error')} = ''",
    ]
    params: list[Any] = [
        DomainRegistration.Status.REGISTERED,
        prep("registered_at", now),
    ]
    per_row: list[tuple[str, str, list[Any]]] = [
        ("contact_id", "contact", list(contact_of.values())),
        ("roid", "roid", [a.roid for a in by_id.values()]),
        # The registry's instant (UTC) as a date of our calendar (Europe/Amsterdam).
        (
            "expires_on",
            "expires_on",
            [_local_date(a.expires) if a.expires else None for a in by_id.values()],
        ),
        ("nameservers", "nameservers", [a.nameservers for a in by_id.values()]),
    ]
    ids = list(by_id)
    table = qn(meta.db_table)
    arrays = connection.vendor == "postgresql"
    if arrays:
        # Each registration's values as one array per column (kluis.rows.unnest): a
        # statement of a few parameters, however many registrations.
        fields = [meta.pk, *(model_field(f) for _c, f, _v in per_row)]
        names = ", ".join(qn(c) for c in ("id", *(c for c, _f, _v in per_row)))
        sets += [f"{qn(c)} = v.{qn(c)}" for c, _f, _v in per_row]
        params.append(ids)
        params += [[prep(f, v) for v in values] for _c, f, values in per_row]
        sql = (
            f"UPDATE {table} SET {', '.join(sets)} "  # noqa: S608
            f"FROM {unnest(fields, connection)} AS v({names}) "
            f"WHERE {table}.{qn('id')} = v.{qn('id')} AND {table}.{qn('status')} <> %s "
            f"RETURNING {table}.{qn('id')}"
        )
    else:
        for column, field_name, values in per_row:
            sql, more = case(column, field_name, [prep(field_name, v) for v in values])
            sets.append(sql)
            params += more
        where = f"{qn('id')} IN ({', '.join(['%s'] * len(ids))}) AND {qn('status')} <> %s"
        sql = (
            f"UPDATE {table} SET {', '.join(sets)} "  # noqa: S608
            f"WHERE {where} RETURNING {qn('id')}"
        )
        params += ids
    with bound_cursor(connection) if arrays else connection.cursor() as cursor:
        # The names come from the model's meta; every value is a parameter.
        cursor.execute(sql, [*params, DomainRegistration.Status.REGISTERED])
        written = {row[0] for row in cursor.fetchall()}
    sends: list[Sent] = []
    for pk in written:
        a = by_id[pk]
        registration = a.registration
        registration.status = DomainRegistration.Status.REGISTERED
        registration.contact_id = contact_of[pk]
        registration.roid = a.roid
        registration.nameservers = a.nameservers
        registration.expires_on = _local_date(a.expires) if a.expires else None
        registration.registered_at = now
        registration.leased_until = None
        registration.last_error = ""
        if a.sent:
            sends.append(_registry_send(a.customer_id, a.registry, a.categories, a.reference))
        sends.append(
            _registry_send(
                a.customer_id, a.registry, a.categories, f"{a.reference} domain:{a.name}"
            )
        )
    if sends:
        disclosures_insert(sends)
    return written


@dataclass
class Batch:
    """What the registrations of one run share (registrations_run).

    Contact fields and domain names are revealed once for the whole run, and each
    registry's hosts and our own contact there are checked once. The registrations the
    registry accepted wait in `pending` and are written together, a few dozen per
    transaction (`flush`, records_write): each one's state change and ledger entries
    still share one transaction, and a crash before the commit leaves them pending, to
    be found at the registry by the next run (as for a single one).
    """

    revealed: dict[object, dict[str, str]] = field(default_factory=dict)
    names: dict[int, str | None] = field(default_factory=dict)
    # The customers' live contacts at the start of the run: (customer id, registry key).
    known: dict[tuple[object, str], RegistryContact] = field(default_factory=dict)
    pending: list[Accepted] = field(default_factory=list)
    # Contacts this run sent to a registry: (customer id, registry key) -> handle. A
    # later domain of theirs in the run reuses the handle and sends nothing again.
    contacts: dict[tuple[object, str], str] = field(default_factory=dict)
    # Registries whose hosts and admin/tech contact this run made sure of: key -> handle.
    ready: dict[str, str] = field(default_factory=dict)
    since: float = 0.0

    def add(self, accepted: Accepted) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(accepted)

    def due(self) -> bool:
        return len(self.pending) >= FLUSH_EVERY or (
            bool(self.pending) and time.monotonic() - self.since >= FLUSH_SECONDS
        )

    def flush(self) -> None:
        """Write the waiting records, in one transaction."""
        if not self.pending:
            return
        with transaction.atomic():
            records_write(self.pending)
        self.pending.clear()


def domain_register(
    *,
    registration: DomainRegistration,
    session_for: SessionFor = _session,
    revealed: dict[object, dict[str, str]] | None = None,
    batch: Batch | None = None,
) -> DomainRegistration:
    """Register one pending domain; safe to run again after any crash.

    Raises RegistrationRefused when policy or the customer's data stop it (the
    registration is marked refused or failed, nothing is sent), EppError when the
    registry cannot be reached (the registration stays pending for the next run).
    `revealed` holds contact fields a batch revealed at once (reveal_contacts). With
    a `batch`, a registration the registry accepted is returned marked registered and
    its record waits in the batch until `batch.flush()`.
    """
    if batch is not None:
        revealed = batch.revealed
    registry = REGISTRIES[registration.registry]
    consent, customer, name = _preflight(registration, registry, batch)
    plan = contact_plan(registration, registry, customer, consent, revealed, batch)
    nameservers = list(settings.KLUIS_EPP_NAMESERVERS)

    def create(epp: EppClient) -> tuple[dt.datetime | None, str]:
        helper = _registry_ready(epp, registry, nameservers, batch)
        return epp.drive(
            _create_steps(
                name=name,
                handle=plan.handle,
                helper=helper,
                registry=registry,
                nameservers=nameservers,
                client_id=epp.endpoint.client_id,
            )
        )

    def remember(sent: ContactSent | None) -> None:
        _remember_contact(batch, customer, registry, plan.handle, sent)

    answered = with_contact_sent(
        registration, registry, plan, session_for, create, _cause, on_sent=remember
    )
    if answered is None:
        return registration
    (expires, roid), sent = answered
    _after_create(registration)
    return _accept(
        Accepted(
            registration=registration,
            registry=registry,
            customer_id=customer.id,
            handle=plan.handle,
            sent=sent is not None,
            known=plan.known,
            roid=roid,
            expires=expires,
            nameservers=nameservers,
            categories=plan.categories,
            reference=plan.reference,
            name=name,
        ),
        batch,
    )


def _accept(accepted: Accepted, batch: Batch | None) -> DomainRegistration:
    """Write the record now, or with a `batch` at its next flush."""
    registration = accepted.registration
    if batch is None:
        with transaction.atomic():
            if not records_write([accepted]):
                return DomainRegistration.objects.get(pk=registration.pk)
        return registration
    batch.add(accepted)
    if accepted.sent:
        batch.contacts[(accepted.customer_id, accepted.registry.key)] = accepted.handle
    registration.status = DomainRegistration.Status.REGISTERED
    return registration


def _contact_steps(data: ContactData, client_id: str, sidn: bool) -> Steps[None]:
    """Create the contact; one of ours left by a crashed run counts as created."""
    try:
        yield cmd.contact_create(data, sidn=sidn)
    except EppCommandFailed as exc:
        if exc.code != codes.OBJECT_EXISTS:
            raise
        info = answer_data(codes.read_contact_info, (yield cmd.contact_info(data.handle)))
        if info.sponsor != client_id:
            raise exc from None


def _create_steps(
    *,
    name: str,
    handle: str,
    helper: str,
    registry: Registry,
    nameservers: list[str],
    client_id: str,
) -> Steps[tuple[dt.datetime | None, str]]:
    """Create the domain: (expiry, roid). One of ours with our registrant, left by a run
    that crashed before its commit, is found with info and completed."""
    try:
        answer = yield cmd.domain_create(
            name=name,
            years=1,
            registrant=handle,
            auth_pw=auth_code_new(registry),
            nameservers=nameservers,
            admin=helper,
            tech=helper,
        )
    except EppCommandFailed as exc:
        if exc.code != codes.OBJECT_EXISTS:
            raise
        info = answer_data(codes.read_domain_info, (yield cmd.domain_info(name)))
        if info.sponsor != client_id or info.registrant != handle:
            raise exc from None
        return info.expires, info.roid
    return answer_data(codes.read_domain_created, answer).expires, ""


def _remember_contact(
    batch: Batch | None, customer: Customer, registry: Registry, handle: str, sent: object
) -> None:
    """A contact this run sent: later domains of the customer in the run reuse it."""
    if batch is not None and sent is not None and registry.contact_reusable:
        batch.contacts[(customer.pk, registry.key)] = handle


def _sendable(rows: list[DomainRegistration]) -> list[DomainRegistration]:
    """The registrations of a run that may be sent: still wanted, with consent where the
    registry is outside the EU (the others are refused by their step)."""
    return [
        r
        for r in rows
        if shop_link.still_wanted(r.order)
        and (not REGISTRIES[r.registry].outside_eu or shop_link.non_eu_consent(r.order))
    ]


def reveal_for_batch(batch: list[DomainRegistration]) -> dict[object, dict[str, str]]:
    """Contact fields revealed together (one transaction), only for those to be sent."""
    sendable = _sendable(batch)
    return _contacts_reveal(sendable, _contacts_known(sendable))


def _contacts_reveal(
    sendable: list[DomainRegistration], known: dict[tuple[object, str], RegistryContact]
) -> dict[object, dict[str, str]]:
    """Revealed for the customers whose contact the registry does not hold yet (`known`:
    the live contacts, read in one query)."""
    to_send = {}
    for registration in sendable:
        registry = REGISTRIES[registration.registry]
        customer = shop_link.customer_of(registration.order)
        if not registry.contact_reusable or (customer.pk, registry.key) not in known:
            to_send[customer.pk] = customer
    return reveal_contacts(list(to_send.values()))


class Step(Protocol):
    def __call__(
        self,
        *,
        registration: DomainRegistration,
        session_for: SessionFor,
        revealed: dict[object, dict[str, str]] | None,
    ) -> DomainRegistration: ...


REFUSED, WAITING = "refused", "waiting"


def claimed_run(
    *,
    kind: str,
    step: Step,
    limit: int,
    session_for: SessionFor,
    now: dt.datetime | None,
) -> Counter[str]:
    """Claim the pending ones of `kind` and take `step` with each: a count per outcome
    (the registration's status, REFUSED, or WAITING when the registry was unreachable)."""
    counts: Counter[str] = Counter()
    ids = registrations_claim(limit=limit, now=now, kind=kind)
    batch = list(
        DomainRegistration.objects.select_related("order__customer", "line")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    revealed = reveal_for_batch(batch)
    for registration in batch:
        try:
            result = step(registration=registration, session_for=session_for, revealed=revealed)
        except RegistrationRefused:
            counts[REFUSED] += 1
            continue
        except EppError as exc:
            DomainRegistration.objects.filter(pk=registration.pk).update(
                attempts=registration.attempts + 1,
                last_error=str(exc)[:500],
                leased_until=None,
            )
            counts[WAITING] += 1
            continue
        counts[result.status] += 1
    return counts


def registrations_run(
    *, limit: int = 50, session_for: SessionFor = _session, now: dt.datetime | None = None
) -> str:
    """Register what is pending (the worker's job); a one-line outcome without names."""
    done = failed = waiting = 0
    ids = registrations_claim(limit=limit, now=now, kind=DomainRegistration.Kind.REGISTER)
    batch_rows = list(
        DomainRegistration.objects.select_related("order__customer", "line")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    # Revealed together (one transaction each), only for what will be sent.
    known = _contacts_known(batch_rows)
    sendable = _sendable(batch_rows)
    batch = Batch(
        revealed=_contacts_reveal(sendable, known),
        names=_names_reveal([r.line for r in sendable]),
        known=known,
    )
    if session_for is _session:
        counts = _run_pipelined(batch_rows, batch)
        return (
            f"{counts[DomainRegistration.Status.REGISTERED]} registered, "
            f"{counts[REFUSED]} failed or refused, {counts[WAITING]} waiting"
        )
    try:
        for i, registration in enumerate(batch_rows):
            if i % FLUSH_EVERY == 0:
                # Whether each order is still wanted, read again just before its sends.
                orders_reread(batch_rows[i : i + FLUSH_EVERY])
            try:
                result = domain_register(
                    registration=registration, session_for=session_for, batch=batch
                )
            except RegistrationRefused:
                failed += 1
                continue
            except EppError as exc:
                DomainRegistration.objects.filter(pk=registration.pk).update(
                    attempts=registration.attempts + 1,
                    last_error=str(exc)[:500],
                    leased_until=None,
                )
                waiting += 1
                continue
            finally:
                if batch.due():
                    batch.flush()
            if result.status == DomainRegistration.Status.REGISTERED:
                done += 1
            else:
                failed += 1
    finally:
        # What the registries accepted is written even when the run stops on an error.
        batch.flush()
    return f"{done} registered, {failed} failed or refused, {waiting} waiting"


@dataclass
class _Flight:
    """One registration's conversation in a pipelined run."""

    registration: DomainRegistration
    registry: Registry
    customer: Customer
    plan: ContactPlan
    name: str
    nameservers: list[str]
    # The registrant contact reached the registry (its create was answered).
    sent: bool = False

    @property
    def contact_sent(self) -> ContactSent | None:
        plan = self.plan
        return (self.registry, plan.handle, plan.categories, plan.reference) if self.sent else None

    def steps(
        self, helper: str, client_id: str, sidn: bool
    ) -> Steps[tuple[dt.datetime | None, str]]:
        if self.plan.data is not None:
            yield from _contact_steps(self.plan.data, client_id, sidn)
            self.sent = True
        return (
            yield from _create_steps(
                name=self.name,
                handle=self.plan.handle,
                helper=helper,
                registry=self.registry,
                nameservers=self.nameservers,
                client_id=client_id,
            )
        )


# How far ahead in the queue a run looks for a registration it can send while the
# earlier ones of the same customer and registry are still in flight.
LOOKAHEAD = 64


def _run_pipelined(rows: list[DomainRegistration], batch: Batch) -> Counter[str]:
    """The registrations of a run over up to the pool's limit of sessions per registry,
    one command in flight on each (epp/pipeline.py), the records written in batches.

    Each registration is prepared just before its first command (its order re-read
    with its group by orders_reread, the non-EU consent checked, its contact planned),
    and only one registration per customer and registry is in flight at a time, so a
    contact sent for one is reused by the next as in a run one by one.
    """
    counts: Counter[str] = Counter()
    queue = deque(rows)
    fresh: set[int] = set()
    in_flight: set[tuple[object, str]] = set()
    nameservers = list(settings.KLUIS_EPP_NAMESERVERS)

    def wait_for(registration: DomainRegistration, exc: EppError) -> None:
        DomainRegistration.objects.filter(pk=registration.pk).update(
            attempts=registration.attempts + 1, last_error=str(exc)[:500], leased_until=None
        )
        counts[WAITING] += 1

    def next_sendable() -> DomainRegistration | None:
        for i, registration in enumerate(itertools.islice(queue, LOOKAHEAD)):
            key = (registration.order.customer_id, registration.registry)
            if key not in in_flight or not REGISTRIES[registration.registry].contact_reusable:
                del queue[i]
                return registration
        return None

    def ended(end: Ended) -> None:
        flight: _Flight = end.tag
        registration, registry = flight.registration, flight.registry
        in_flight.discard((registration.order.customer_id, registry.key))
        _remember_contact(batch, flight.customer, registry, flight.plan.handle, flight.contact_sent)
        if end.error is None:
            expires, roid = end.value
            _after_create(registration)
            _accept(
                Accepted(
                    registration=registration,
                    registry=registry,
                    customer_id=flight.customer.id,
                    handle=flight.plan.handle,
                    sent=flight.sent,
                    known=flight.plan.known,
                    roid=roid,
                    expires=expires,
                    nameservers=flight.nameservers,
                    categories=flight.plan.categories,
                    reference=flight.plan.reference,
                    name=flight.name,
                ),
                batch,
            )
            counts[DomainRegistration.Status.REGISTERED] += 1
        elif isinstance(end.error, EppCommandFailed):
            exc = end.error
            _finish_failed(
                registration,
                f"{registry.name}: {exc.response.explain()}",
                cause=_cause(exc),
                contact_sent=flight.contact_sent,
            )
            log.info("registration %s failed: %s", registration.pk, exc.code)
            counts[REFUSED] += 1
        else:
            if flight.contact_sent is not None:
                # The contact reached the registry before the session broke.
                with transaction.atomic():
                    _record_contact_sent(registration, *flight.contact_sent)
            wait_for(registration, end.error)
        if batch.due():
            batch.flush()

    def dispatch(pipe: Pipeline) -> bool:
        """Start the next registration's conversation; False when none can start now."""
        registration = next_sendable()
        if registration is None:
            return False
        registry = REGISTRIES[registration.registry]
        if not pipe.may_start(registry.key):
            queue.appendleft(registration)
            return False
        if registration.pk not in fresh:
            group = [registration, *itertools.islice(queue, FLUSH_EVERY - 1)]
            orders_reread(group)  # just before their sends
            fresh.update(r.pk for r in group)
        try:
            consent, customer, name = _preflight(registration, registry, batch)
            plan = contact_plan(registration, registry, customer, consent, batch.revealed, batch)
        except RegistrationRefused:
            counts[REFUSED] += 1
            return True
        flight = _Flight(registration, registry, customer, plan, name, nameservers)
        try:
            epp = pipe.free_session(registry.key)
        except EppError as exc:
            wait_for(registration, exc)
            return True
        if epp is None:  # the registry gives no more sessions: prepared again later
            queue.appendleft(registration)
            return False
        try:
            helper = _registry_ready(epp, registry, nameservers, batch)
        except RegistrationRefused:
            counts[REFUSED] += 1
            return True
        except EppError as exc:
            ended(Ended(flight, error=exc))
            return True
        in_flight.add((customer.pk, registry.key))
        steps = flight.steps(helper, epp.endpoint.client_id, epp.speaks_sidn)
        end = pipe.launch(registry.key, epp, steps, flight)
        if end is not None:
            ended(end)
        return True

    pipe = Pipeline(pool)
    try:
        while queue or pipe.busy:
            while queue and dispatch(pipe):
                pass
            if not pipe.busy:
                # With nothing in flight, every registration left can start.
                assert not queue, "registrations wait on nothing in flight"
                break
            for end in pipe.wait():
                ended(end)
    finally:
        # What the registries accepted is written even when the run stops on an error:
        # the answers still in flight are read first.
        try:
            while pipe.busy:
                for end in pipe.wait():
                    ended(end)
        finally:
            pipe.close()
            batch.flush()
    return counts


def orders_reread(rows: list[DomainRegistration]) -> None:
    """The orders' status and consent as they are now, in one query (an order cancelled
    or withdrawn since the run began is refused by _preflight, not sent)."""
    from kluis.shop.models import Order

    fresh = {
        pk: (status, consent, version)
        for pk, status, consent, version in Order.objects.filter(
            pk__in={r.order_id for r in rows}
        ).values_list("pk", "status", "non_eu_consent", "whois_notice_version")
    }
    for registration in rows:
        order = registration.order
        order.status, order.non_eu_consent, order.whois_notice_version = fresh[order.pk]


def _contacts_known(rows: list[DomainRegistration]) -> dict[tuple[object, str], RegistryContact]:
    """The live contacts of the run's customers, in one query."""
    customers = {r.order.customer_id for r in rows}
    return {
        (c.customer_id, c.registry): c
        for c in RegistryContact.objects.filter(customer_id__in=customers, deleted_at=None)
    }


def _names_reveal(lines: list[OrderLine]) -> dict[int, str | None]:
    if not lines:
        return {}
    with transaction.atomic():
        return shop_link.domains_of(lines)


@transaction.atomic
def registration_retry(*, registration: DomainRegistration, by: User) -> DomainRegistration:
    """Put a failed registration back in the queue (after the cause was put right)."""
    locked = DomainRegistration.objects.select_for_update().get(pk=registration.pk)
    if not locked.can_retry:
        raise RegistrationRefused("only a failed registration can be tried again")
    locked.status = DomainRegistration.Status.PENDING
    locked.leased_until = None
    locked.save(update_fields=["status", "leased_until"])
    audit_append(
        action="domains.registration_retried",
        actor=f"user:{by.pk}",
        subject=locked.order.customer_id,
        data={"registration": locked.pk, "registry": locked.registry},
    )
    return locked


_TRANSFERRED = {"serverApproved", "clientApproved"}


def _act_on_poll(
    registry: Registry, message: codes.Response, client_id: str
) -> tuple[str, str, str] | None:
    """A transfer away that the registry approved marks the domain as moved (idempotent).

    A message about a transfer we requested is returned (domain, status, text), for
    kluis/domains/transfers.py to act on once the poll session is closed.
    """
    if message.res_data is None or message.res_data.find(f"{{{DOMAIN}}}trnData") is None:
        return None
    transfer = codes.read_domain_transfer(message)
    if transfer.requested_by == client_id:
        return (transfer.name.lower(), transfer.status, message.queue_message)
    if transfer.status not in _TRANSFERRED:
        return None
    with transaction.atomic():
        moved = list(
            DomainRegistration.objects.select_for_update().filter(
                registry=registry.key,
                line_id__in=shop_link.lines_of_domain(transfer.name),
                status=DomainRegistration.Status.REGISTERED,
            )
        )
        for registration in moved:
            DomainRegistration.objects.filter(pk=registration.pk).update(
                status=DomainRegistration.Status.TRANSFERRED
            )
            audit_append(
                action="domains.transferred_away",
                actor=ACTOR.ref,
                subject=registration.order.customer_id,
                data={"registration": registration.pk, "registry": registry.key},
            )
    return None


def poll_messages_fetch(*, registry: Registry, session_for: SessionFor = _session) -> int:
    """Read a registry's poll queue into PollMessage rows, acknowledging each one.

    A message is stored before it is acknowledged; after a crash in between, the
    registry offers it again and the unique (registry, message id) keeps one row.
    """
    from kluis.domains.transfers import transfers_settle_from_poll

    fetched = 0
    ours: list[tuple[str, str, str]] = []
    with session_for(registry) as epp:
        for _ in range(POLL_BATCH):
            message = epp.poll()
            if message is None:
                break
            row, _created = PollMessage.objects.get_or_create(
                registry=registry.key,
                message_id=message.queue_id,
                defaults={"queued_at": message.queue_date, "text": message.queue_message[:500]},
            )
            mine = _act_on_poll(registry, message, epp.endpoint.client_id)
            if mine is not None:
                ours.append(mine)
            else:
                # A deletion or new expiry by the registry: acted on before the ack.
                outcome = notices.notice_act(registry, epp, message)
                if outcome:
                    PollMessage.objects.filter(pk=row.pk).update(outcome=outcome[:200])
            epp.poll_ack(message.queue_id)
            fetched += 1
    # A message lost here after its ack is not lost for good: the transfers job asks
    # the registry itself every CHECK_EVERY.
    transfers_settle_from_poll(registry, ours, session_for=session_for)
    return fetched


def poll_messages_run(*, session_for: SessionFor = _session) -> str:
    """Every configured registry's poll queue (the worker's job)."""
    fetched, unreachable = 0, []
    for registry in REGISTRIES.values():
        if not settings.KLUIS_EPP_ENDPOINTS.get(registry.key):
            continue
        try:
            fetched += poll_messages_fetch(registry=registry, session_for=session_for)
        except EppError:
            unreachable.append(registry.key)
    return f"{fetched} poll messages" + (
        f"; unreachable: {', '.join(unreachable)}" if unreachable else ""
    )


@contextlib.contextmanager
def session_from(client: EppClient) -> Iterator[EppClient]:
    """A SessionFor over one open client (tests and benchmarks)."""
    yield client


def _local_date(moment: dt.datetime) -> dt.date:
    """The Amsterdam calendar date of a registry's timestamp (a naive one counts as UTC)."""
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.UTC)
    return timezone.localdate(moment)
