"""Transfer in: a domain the customer holds elsewhere moves to us with its auth code.

- **The code.** The shop hands the auth code over with the order line
  (`transfer_code_store`); it is sealed (AES-GCM under the keystore's system secret
  `domain-transfer-code`, bound to its order line), never logged or shown, opened only
  to go into the <transfer> command, and deleted once the transfer is done or failed.
- **Request.** When the order moves to "in behandeling" the line is queued as a
  transfer (kluis/domains/services.py, `registrations_queue`). The worker's
  `domains_transfer` job checks what a registration checks (the order still wanted,
  the non-EU consent and WHOIS/RDAP notice, the policy), creates or reuses the
  registrant contact, and sends <transfer op="request"> with the code. The contact's
  send is written to the disclosure ledger in the transaction that marks the
  registration "transfer pending".
- **Completion.** A registry that approves at once (SIDN) answers 1000
  serverApproved; others answer 1001 pending and tell us later by a poll message
  (serverApproved, clientApproved, clientRejected, clientCancelled, serverCancelled),
  which the poll job passes here (`transfer_settle`). Without a message the job asks
  itself every CHECK_EVERY (<info> and <transfer op="query">). On approval the
  domain's holder becomes our contact of the customer, our nameservers are set when
  the domain has none, the registry's expiry date is recorded and the domain in the
  customer's name is ledgered, all in one transaction.
- **Crashes.** Before a request the job asks the registry what it knows: a domain
  already ours (approved at once before a crash), or a pending transfer requested by
  us, is taken up where it was; the request is never sent twice.
- **Refusals** (2202 wrong code, 2201, 2304, 2303, a rejection): the registration
  fails with the registry's words for the domains desk, the code is deleted and the
  customer gets one mail (kluis/domains/emails.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kluis.audit.chain import audit_append
from kluis.domains import shop_link
from kluis.domains.emails import Cause
from kluis.domains.epp import responses as codes
from kluis.domains.epp.client import EppClient, EppCommandFailed, EppError
from kluis.domains.models import DomainRegistration, TransferCode
from kluis.domains.registries import REGISTRIES, Registry, UnknownTld, registry_for
from kluis.domains.services import (
    ACTOR,
    WAITING,
    RegistrationRefused,
    SessionFor,
    _categories,
    _ensure_hosts,
    _finish_failed,
    _local_date,
    _preflight,
    _record_contact_sent,
    _session,
    claimed_run,
    contact_plan,
    ledger_send,
    with_contact_sent,
)
from kluis.vault.keys import system_secret

log = logging.getLogger(__name__)

CODE_KEY_NAME = "domain-transfer-code"
CHECK_EVERY = dt.timedelta(hours=1)
APPROVED = frozenset({"serverApproved", "clientApproved"})
DECLINED = frozenset({"clientRejected", "clientCancelled", "serverCancelled"})
_CAUSES = {
    codes.INVALID_AUTH_INFO: Cause.WRONG_CODE,
    codes.AUTHORIZATION: Cause.NOT_ALLOWED,
    codes.STATUS_PROHIBITS: Cause.NOT_ALLOWED,
    2106: Cause.NOT_ALLOWED,  # not eligible for transfer
    2300: Cause.NOT_ALLOWED,  # a transfer is pending already
    codes.OBJECT_DOES_NOT_EXIST: Cause.NOT_FOUND,
}
_NOT_PENDING = 2301


class TransferCodeRefused(ValueError):
    """The auth code does not fit the registry's format; the message is for the customer."""


# --- the sealed code ------------------------------------------------------------------


def _aad(line_id: int) -> bytes:
    return f"kluis-transfer-code|line:{line_id}".encode()


def transfer_code_clean(domain: str, code: str) -> str:
    """The code as the registry of `domain` will take it, or TransferCodeRefused."""
    code = code.strip()
    try:
        registry = registry_for(domain)
    except UnknownTld:
        raise TransferCodeRefused(_("Deze extensie verhuizen we niet.")) from None
    if not code:
        raise TransferCodeRefused(_("Vul de verhuiscode van je huidige provider in."))
    if not registry.auth_code.fullmatch(code):
        raise TransferCodeRefused(
            _("Deze verhuiscode heeft niet de vorm die %(registry)s gebruikt. Controleer hem.")
            % {"registry": registry.name}
        )
    return code


def transfer_code_store(*, line_id: int, code: str) -> TransferCode:
    """Seal `code` for the order line (call in the checkout's transaction)."""
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(system_secret(CODE_KEY_NAME)).encrypt(
        nonce, code.encode(), _aad(line_id)
    )
    row, _created = TransferCode.objects.update_or_create(
        line_id=line_id, defaults={"sealed": sealed}
    )
    return row


def _code_of(registration: DomainRegistration) -> str:
    row = TransferCode.objects.filter(line_id=registration.line_id).first()
    if row is None:
        return ""
    blob = bytes(row.sealed)
    plain = AESGCM(system_secret(CODE_KEY_NAME)).decrypt(blob[:12], blob[12:], _aad(row.line_id))
    return plain.decode()


def _code_discard(registration: DomainRegistration) -> None:
    TransferCode.objects.filter(line_id=registration.line_id).delete()


# --- request --------------------------------------------------------------------------


def _after_request(registration: DomainRegistration) -> None:
    """The moment between the registry's yes and our commit (tests crash here)."""


def _held_by_another(registration: DomainRegistration, name: str) -> bool:
    """Whether another registration in kluis holds the domain (another customer's)."""
    return (
        DomainRegistration.objects.filter(
            line_id__in=shop_link.lines_of_domain(name),
            status__in=(
                DomainRegistration.Status.REGISTERED,
                DomainRegistration.Status.TRANSFER_PENDING,
            ),
        )
        .exclude(pk=registration.pk)
        .exists()
    )


def _fail(registration: DomainRegistration, message: str, cause: str) -> None:
    """Failed with the registry's words; the code is deleted and the customer mailed."""
    _finish_failed(registration, message, cause=cause)


def _sponsor(epp: EppClient, name: str) -> str:
    """The registrar that holds `name` ("" where the registry shows it to none but it)."""
    try:
        return epp.domain_info(name).sponsor
    except EppCommandFailed as exc:
        if exc.code != codes.AUTHORIZATION:
            raise
        return ""


def _request_once(epp: EppClient, name: str, code: str, years: int | None = None) -> str:
    """Send <transfer op="request"> unless the registry shows an earlier run did.

    `years` is the period the registry adds to a transfer (its `transfer_years`; none
    where a transfer extends nothing). Returns "approved" (the domain is ours now) or
    "pending".
    """
    me = epp.endpoint.client_id
    if _sponsor(epp, name) == me:
        return "approved"  # approved at once for a run that crashed before its commit
    try:
        _answer, earlier = epp.domain_transfer(op="query", name=name, auth_pw=code)
    except EppCommandFailed as exc:
        if exc.code not in (_NOT_PENDING, codes.AUTHORIZATION, codes.INVALID_AUTH_INFO):
            raise
        earlier = None
    if earlier is not None and earlier.status == "pending" and earlier.requested_by == me:
        return "pending"  # requested by a run that crashed before its commit
    _answer, trn = epp.domain_transfer(op="request", name=name, auth_pw=code, years=years)
    if trn is not None and trn.status in APPROVED:
        return "approved"
    return "pending"


def transfer_request(
    *,
    registration: DomainRegistration,
    session_for: SessionFor = _session,
    revealed: dict[object, dict[str, str]] | None = None,
) -> DomainRegistration:
    """Ask the registry to move one domain to us; safe to run again after any crash.

    RegistrationRefused when policy or data stop it (recorded), EppError when the
    registry cannot be reached (it stays pending for the next run).
    """
    registry = REGISTRIES[registration.registry]
    consent, customer, name = _preflight(registration, registry)
    code = _code_of(registration)
    if not code:
        _fail(registration, _("Er is geen verhuiscode (meer) bij deze bestelling."), Cause.OTHER)
        raise RegistrationRefused("no auth code")
    if _held_by_another(registration, name):
        _fail(
            registration,
            _("De domeinnaam staat al bij ons, bij een andere registratie."),
            Cause.NOT_ALLOWED,
        )
        raise RegistrationRefused("held by another registration")
    plan = contact_plan(registration, registry, customer, consent, revealed)
    answered = with_contact_sent(
        registration,
        registry,
        plan,
        session_for,
        lambda epp: _request_once(epp, name, code, registry.transfer_years),
        lambda exc: _CAUSES.get(exc.code, Cause.OTHER),
    )
    if answered is None:
        return registration
    outcome, sent = answered
    _after_request(registration)
    with transaction.atomic():
        locked = DomainRegistration.objects.select_for_update().get(pk=registration.pk)
        if locked.status != DomainRegistration.Status.PENDING:
            return locked
        contact = _record_contact_sent(registration, *sent) if sent is not None else plan.known
        assert contact is not None
        now = timezone.now()
        locked.status = DomainRegistration.Status.TRANSFER_PENDING
        locked.contact = contact
        locked.transfer_requested_at = now
        locked.transfer_checked_at = now
        locked.leased_until = None
        locked.last_error = ""
        locked.save()
        audit_append(
            action="domains.transfer_requested",
            actor=ACTOR.ref,
            subject=customer.pk,
            data={"registration": locked.pk, "registry": registry.key},
        )
    if outcome == "approved":
        return transfer_complete(registration=locked, session_for=session_for)
    return locked


# --- completion -----------------------------------------------------------------------


def _after_approval(registration: DomainRegistration) -> None:
    """The moment between the registry's changes and our commit (tests crash here)."""


def transfer_complete(
    *, registration: DomainRegistration, session_for: SessionFor = _session
) -> DomainRegistration:
    """Take over a domain the registry moved to us: holder, nameservers, expiry."""
    registry = REGISTRIES[registration.registry]
    name = shop_link.domain_of(registration.line)
    contact = registration.contact
    assert contact is not None  # set with the request
    ours = list(settings.KLUIS_EPP_NAMESERVERS)
    with session_for(registry) as epp:
        info = epp.domain_info(name)
        if info.sponsor != epp.endpoint.client_id:
            return registration  # not (yet) ours
        try:
            if info.registrant != contact.handle:
                epp.domain_update(name=name, registrant=contact.handle)
            nameservers = list(info.nameservers)
            if not nameservers:
                _ensure_hosts(epp, ours)
                epp.domain_update(name=name, add_ns=ours)
                nameservers = ours
        except EppCommandFailed as exc:
            # Ours, but the registry refuses the take-over (a lock the old registrar
            # left): for the desk; the hourly check tries again.
            DomainRegistration.objects.filter(pk=registration.pk).update(
                last_error=f"{registry.name}: {exc.response.explain()}"[:500]
            )
            registration.refresh_from_db()
            return registration
    _after_approval(registration)
    with transaction.atomic():
        locked = DomainRegistration.objects.select_for_update().get(pk=registration.pk)
        if locked.status != DomainRegistration.Status.TRANSFER_PENDING:
            return locked
        locked.status = DomainRegistration.Status.REGISTERED
        locked.roid = info.roid
        locked.nameservers = nameservers
        locked.expires_on = _local_date(info.expires) if info.expires else None
        locked.registered_at = timezone.now()
        locked.last_error = ""
        locked.save()
        _code_discard(locked)
        customer = registration.order.customer
        ledger_send(
            customer.id,
            registry,
            _categories(customer, registry),
            f"order:{registration.order.number} transfer domain:{name}",
        )
        audit_append(
            action="domains.transferred_in",
            actor=ACTOR.ref,
            subject=registration.order.customer_id,
            data={"registration": locked.pk, "registry": registry.key},
        )
    return locked


def transfer_settle(
    *,
    registration: DomainRegistration,
    status: str,
    text: str = "",
    session_for: SessionFor = _session,
) -> DomainRegistration:
    """What a poll message (or a query) said of our pending transfer, acted on once."""
    if registration.status != DomainRegistration.Status.TRANSFER_PENDING:
        return registration
    if status in APPROVED:
        return transfer_complete(registration=registration, session_for=session_for)
    if status in DECLINED:
        registry = REGISTRIES[registration.registry]
        _fail(
            registration,
            f"{registry.name}: {status}" + (f" ({text[:300]})" if text else ""),
            Cause.DECLINED,
        )
        registration.refresh_from_db()
    return registration


def transfer_check(
    *, registration: DomainRegistration, session_for: SessionFor = _session
) -> DomainRegistration:
    """Ask the registry how a pending transfer stands (when no poll message came)."""
    registry = REGISTRIES[registration.registry]
    name = shop_link.domain_of(registration.line)
    with session_for(registry) as epp:
        if _sponsor(epp, name) == epp.endpoint.client_id:
            status = "serverApproved"
        else:
            try:
                _answer, trn = epp.domain_transfer(
                    op="query", name=name, auth_pw=_code_of(registration)
                )
                status = trn.status if trn is not None else "pending"
            except EppCommandFailed as exc:
                if exc.code not in (_NOT_PENDING, codes.AUTHORIZATION, codes.INVALID_AUTH_INFO):
                    raise
                status = "clientCancelled"  # no longer pending, and not ours
            registration.order.refresh_from_db(fields=["status"])
            if status == "pending" and not shop_link.still_wanted(registration.order):
                # The order was cancelled or withdrawn while the transfer waited.
                epp.domain_transfer(op="cancel", name=name)
                return _withdrawn(registration)
    DomainRegistration.objects.filter(pk=registration.pk).update(transfer_checked_at=timezone.now())
    return transfer_settle(registration=registration, status=status, session_for=session_for)


def _withdrawn(registration: DomainRegistration) -> DomainRegistration:
    """A pending transfer we cancelled at the registry: refused, the code deleted."""
    with transaction.atomic():
        DomainRegistration.objects.filter(pk=registration.pk).update(
            status=DomainRegistration.Status.REFUSED,
            last_error=_(
                "De bestelling is geannuleerd of herroepen; de verhuizing is ingetrokken."
            ),
        )
        _code_discard(registration)
        audit_append(
            action="domains.transfer_cancelled",
            actor=ACTOR.ref,
            subject=registration.order.customer_id,
            data={"registration": registration.pk, "registry": registration.registry},
        )
    registration.refresh_from_db()
    return registration


def transfers_settle_from_poll(
    registry: Registry, moved: list[tuple[str, str, str]], *, session_for: SessionFor = _session
) -> None:
    """Act on poll messages about transfers we requested: (domain, status, text)."""
    for name, status, text in moved:
        for registration in DomainRegistration.objects.filter(
            registry=registry.key,
            kind=DomainRegistration.Kind.TRANSFER,
            status=DomainRegistration.Status.TRANSFER_PENDING,
            line_id__in=shop_link.lines_of_domain(name),
        ).select_related("order", "line"):
            try:
                transfer_settle(
                    registration=registration, status=status, text=text, session_for=session_for
                )
            except EppError:
                continue  # the registry went away: the job's own check comes back to it


# --- the job --------------------------------------------------------------------------


def transfers_run(
    *, limit: int = 50, session_for: SessionFor = _session, now: dt.datetime | None = None
) -> str:
    """Request what waits, look after what is pending (the worker's job); no names."""
    now = now or timezone.now()
    counts = claimed_run(
        kind=DomainRegistration.Kind.TRANSFER,
        step=transfer_request,
        limit=limit,
        session_for=session_for,
        now=now,
    )
    requested = counts[DomainRegistration.Status.TRANSFER_PENDING]
    completed = counts[DomainRegistration.Status.REGISTERED]
    waiting = counts[WAITING]
    failed = counts.total() - requested - completed - waiting
    due = (
        DomainRegistration.objects.filter(status=DomainRegistration.Status.TRANSFER_PENDING)
        .filter(
            Q(transfer_checked_at__lt=now - CHECK_EVERY)
            | ~Q(order__status__in=shop_link.wanted_statuses())
        )
        .select_related("order", "line")[:limit]
    )
    for registration in due:
        try:
            result = transfer_check(registration=registration, session_for=session_for)
        except EppError:
            waiting += 1
            continue
        if result.status == DomainRegistration.Status.REGISTERED:
            completed += 1
        elif result.status == DomainRegistration.Status.FAILED:
            failed += 1
    return (
        f"{requested} transfers requested, {completed} completed, "
        f"{failed} failed or refused, {waiting} waiting"
    )
