"""Every write of the accounts app: sign-up, login records, passwords, MFA, roles.

Services take clean input (forms validated it) and write the audit entry and any
email themselves. Audit data never holds an email address, a name or an IP address:
people appear by their pseudonymous ids, clients by an HMAC of their address.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_otp import match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts import emails, throttle, validators
from kluis.accounts.models import (
    Customer,
    EmailChange,
    LegalForm,
    Passkey,
    PasswordResetRequest,
    RoleGrant,
    User,
)
from kluis.accounts.selectors import customers_matching
from kluis.accounts.tokens import link_token_hash, new_link_token
from kluis.audit.chain import audit_append
from kluis.policy.enforce import Actor
from kluis.policy.loader import current_policy
from kluis.policy.schema import ROLE_KEYS, SeparationOfDuties
from kluis.vault.errors import KeyShredded
from kluis.vault.fields import BlindIndexField
from kluis.vault.keys import KeyScope, shred

EMAIL_CHANGE_LIFETIME = dt.timedelta(hours=24)
RECOVERY_CODES = 10
MAILER = Actor.system("accounts.mail")


class AccountError(Exception):
    """A business rule of accounts refused the request; the message says which."""


def email_index(email: str) -> str:
    field = User._meta.get_field("email_index")
    assert isinstance(field, BlindIndexField)
    return field.lookup_value(email)


def _client(client_address: str) -> str:
    return f"client:{throttle.client_ref(client_address)}"


# --- sign-up and activation ---------------------------------------------------------


def _new_customer_number() -> str:
    while True:
        number = f"K{secrets.randbelow(10**8):08d}"
        if not Customer.objects.filter(number=number).exists():
            return number


@transaction.atomic
def customer_sign_up(
    *,
    kind: str,
    name: str,
    company_name: str,
    email: str,
    phone: str,
    language: str,
    client_address: str,
) -> User | None:
    """A customer and their (not yet activated) login; None if the address is taken.

    A taken address gets a notice instead of an activation link, and the visitor
    sees the same page either way, so sign-up does not tell who is a customer.
    The fields pass the validators every form uses (ValidationError otherwise).
    """
    checked = validators.clean_person_fields(
        {"name": name, "company_name": company_name, "email": email, "phone": phone}
    )
    name, company_name, email, phone = (
        checked["name"],
        checked["company_name"],
        checked["email"],
        checked["phone"],
    )
    keys = [throttle.key_for(throttle.SIGNUP_ADDRESS, client_address)]
    if throttle.blocked_seconds(keys):
        raise AccountError("too many sign-ups from this address")
    throttle.throttle_fail(keys=keys)
    existing = User.objects.get_by_email(email)
    if existing is not None:
        audit_append(
            action="accounts.signup_existing",
            actor=_client(client_address),
            subject=existing.vault_subject(),
        )
        emails.send_signup_exists(existing)
        return None
    customer = Customer(
        number=_new_customer_number(), kind=kind, language=language, name=name, email=email
    )
    if company_name:
        customer.company_name = company_name
    if phone:
        customer.phone = phone
    customer.save()
    user = User.objects.create_customer_user(customer=customer, email=email, password=None)
    audit_append(
        action="accounts.signup",
        actor=_client(client_address),
        subject=customer.id,
        data={"kind": kind, "user": str(user.pk)},
    )
    emails.send_activation(user)
    return user


def user_set_password(*, user: User, password: str, via: str) -> None:
    """Set a password the user chose (activation, reset or change) and record it.

    Every session of the user ends with it (their auth hash changes), but the
    caller may keep the current one with update_session_auth_hash.
    """
    hashed = make_password(password)  # ~50 ms of Argon2: outside the transaction
    with transaction.atomic():
        user.password = hashed
        user.save(update_fields=["password"])
        audit_append(
            action="accounts.password_set",
            actor=user.actor().ref,
            subject=user.vault_subject(),
            data={"user": str(user.pk), "via": via},
        )


# --- login --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    blocked_seconds: int = 0

    @property
    def needs_mfa(self) -> bool:
        return self.user is not None and mfa_enabled(self.user)


def _login_keys(index: str, client_address: str, device: str | None) -> list[throttle.Key]:
    account = (
        throttle.key_for(throttle.LOGIN_DEVICE, device)
        if device
        else throttle.key_for(throttle.LOGIN_ACCOUNT, index)
    )
    return [account, throttle.key_for(throttle.LOGIN_ADDRESS, client_address)]


def login_check(
    *, email: str, password: str, client_address: str, device: tuple[str, str] | None
) -> LoginResult:
    """Check a password login against the throttle; record failures.

    `device` is the (user id, device id) of the signed device cookie this browser
    carries, if any: a browser that logged in to this account before has a
    throttle key of its own.
    """
    index = email_index(email)
    known = User.objects.filter(email_index=index).first()
    device_id = device[1] if device and known and device[0] == str(known.pk) else None
    keys = _login_keys(index, client_address, device_id)
    # The one trying is not known to be the account's owner: the actor is the client.
    # For an unknown address nothing personal is recorded, not even its index.
    subject = known.vault_subject() if known else None
    data = {"user": str(known.pk)} if known else {}
    wait = throttle.blocked_seconds(keys)
    if wait:
        audit_append(
            action="accounts.login_throttled",
            actor=_client(client_address),
            subject=subject,
            data=data,
        )
        return LoginResult(None, wait)
    user = authenticate(None, email=email, password=password)
    if not isinstance(user, User):
        throttle.throttle_fail(keys=keys)
        audit_append(
            action="accounts.login_failed",
            actor=_client(client_address),
            subject=subject,
            data=data,
        )
        return LoginResult(None)
    throttle.throttle_clear(keys=keys[:1])
    return LoginResult(user)


@transaction.atomic
def login_record(*, user: User, client_address: str, device: Device | None) -> None:
    audit_append(
        action="accounts.login",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={
            "user": str(user.pk),
            "mfa": device.persistent_id if device else None,
            "client": throttle.client_ref(client_address),
        },
    )


@transaction.atomic
def logout_record(*, user: User) -> None:
    audit_append(
        action="accounts.logout",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk)},
    )


# --- MFA ----------------------------------------------------------------------------


def app_enabled(user: User) -> bool:
    """An authenticator app (TOTP) is set up and confirmed."""
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def mfa_enabled(user: User) -> bool:
    """A second factor is set up: an authenticator app, a passkey, or both."""
    return app_enabled(user) or Passkey.objects.filter(user=user).exists()


@dataclass(frozen=True)
class MfaResult:
    device: Device | None
    blocked_seconds: int = 0


def mfa_check(*, user: User, code: str, client_address: str) -> MfaResult:
    """Check a code from the app or a recovery code, throttled per account and address."""
    keys = throttle.mfa_keys(str(user.pk), client_address)
    wait = throttle.blocked_seconds(keys)
    if wait:
        return MfaResult(None, wait)
    with transaction.atomic():
        device = match_token(user, code)
    if device is None:
        throttle.throttle_fail(keys=keys)
        audit_append(
            action="accounts.mfa_failed",
            actor=user.actor().ref,
            subject=user.vault_subject(),
            data={"user": str(user.pk), "client": throttle.client_ref(client_address)},
        )
        return MfaResult(None)
    throttle.throttle_clear(keys=keys[:1])
    if isinstance(device, StaticDevice):
        audit_append(
            action="accounts.mfa_recovery_code_used",
            actor=user.actor().ref,
            subject=user.vault_subject(),
            data={"user": str(user.pk)},
        )
    return MfaResult(device)


@transaction.atomic
def mfa_totp_start(*, user: User) -> TOTPDevice:
    """The app device being set up: an unconfirmed one, made once and reused."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="app", confirmed=False)
    return device


@transaction.atomic
def mfa_totp_confirm(*, device: TOTPDevice, code: str) -> bool:
    """Confirm the device with a first code; it then replaces any earlier app."""
    if not bool(device.verify_token(code)):
        return False
    user = device.user
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_append(
        action="accounts.mfa_totp_confirmed",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk), "device": device.pk},
    )
    return True


@transaction.atomic
def mfa_recovery_codes_generate(*, user: User) -> list[str]:
    """Ten new single-use recovery codes; the earlier ones stop working."""
    if not mfa_enabled(user):
        raise AccountError("recovery codes come with an authenticator app or a passkey")
    device, _ = StaticDevice.objects.get_or_create(user=user, name="recovery")
    device.confirmed = True
    device.save()
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    audit_append(
        action="accounts.mfa_recovery_codes_generated",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk)},
    )
    return codes


@transaction.atomic
def mfa_disable(*, user: User) -> None:
    if user.is_staff_member:
        raise AccountError("staff cannot turn off two-step verification")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    Passkey.objects.filter(user=user).delete()
    audit_append(
        action="accounts.mfa_disabled",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk)},
    )


# --- password reset -----------------------------------------------------------------


RESETS = Actor.system("accounts.resets")
# A worker that took a reset request and then went silent this long is presumed dead.
RESET_LEASE = dt.timedelta(minutes=5)
# A request the worker could not handle for this long is dropped, unsent.
RESET_GIVE_UP = dt.timedelta(hours=1)


def password_reset_request(*, email: str, client_address: str, language: str = "nl") -> None:
    """Queue a reset for the worker; the page answers the same whatever the address.

    The work here is the same for every address too: whether it has an account is
    not looked up here, so neither the answer, nor its time, nor the queries and audit
    entries it makes tell who has an account. The worker does the rest
    (`password_reset_requests_handle`).
    """
    index = email_index(email)
    keys = [
        throttle.key_for(throttle.RESET_ACCOUNT, index),
        throttle.key_for(throttle.RESET_ADDRESS, client_address),
    ]
    if throttle.blocked_seconds(keys):
        return
    throttle.throttle_fail(keys=keys)  # every request counts: each one sends mail
    with transaction.atomic():
        request = PasswordResetRequest(
            email=email, language=language if language in ("nl", "en") else "nl"
        )
        request.save(force_insert=True)
        audit_append(
            action="accounts.password_reset_requested",
            actor=_client(client_address),
            subject=request.pk,
            data={"request": str(request.pk)},
        )


def password_reset_requests_handle(*, limit: int = 20) -> int:
    """Handle the waiting reset requests, each in its own transaction; how many."""
    now = timezone.now()
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - RESET_LEASE)
    waiting = PasswordResetRequest.objects.filter(free).order_by("created_at")
    handled = 0
    for pk, created_at in waiting.values_list("pk", "created_at")[:limit]:
        # Claimed with a conditional update, so two workers never take the same one.
        claimed = PasswordResetRequest.objects.filter(free, pk=pk).update(claimed_at=now)
        if claimed != 1:
            continue
        _password_reset_handle(pk, give_up=now - created_at > RESET_GIVE_UP)
        handled += 1
    return handled


def _password_reset_handle(pk: uuid.UUID, *, give_up: bool) -> None:
    """Mail the link to the account's stored address, or say there is no account.

    An account not activated yet gets a fresh activation link instead.
    """
    with transaction.atomic():
        request = PasswordResetRequest.objects.get(pk=pk)
        user: User | None = None
        sent = False
        if not give_up and request.email is not None:
            try:
                typed = request.email.reveal(purpose="account_management", actor=RESETS)
            except KeyShredded:
                typed = None
            if typed is not None:
                user = User.objects.filter(email_index=email_index(typed), is_active=True).first()
                if user is None:
                    emails.send_reset_unknown(typed, request.language)
                else:
                    _send_reset_link(user)
                sent = True
        audit_append(
            action="accounts.password_reset_handled",
            actor=RESETS.ref,
            subject=user.vault_subject() if user is not None else pk,
            data={"request": str(pk), "user": str(user.pk) if user else None, "sent": sent},
        )
        request.delete()
    # What was typed is gone with its key, whatever the answer was.
    shred([KeyScope(pk, "contact_request", "")])


@transaction.atomic
def password_reset_send(*, user: User, by: User) -> None:
    """Staff send a customer the reset email; they never see or set the password."""
    if not user.is_active:
        raise AccountError("this account is switched off")
    audit_append(
        action="accounts.password_reset_sent",
        actor=by.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk)},
    )
    _send_reset_link(user)


def _send_reset_link(user: User) -> None:
    # An account that never chose a password gets its activation link instead: the
    # reset link would be refused for a password that does not exist.
    if user.has_usable_password():
        emails.send_password_reset(user)
    else:
        emails.send_activation(user)


# --- email change -------------------------------------------------------------------


@transaction.atomic
def email_change_request(*, user: User, new_email: str) -> EmailChange:
    """Ask the new address to confirm, and tell the old one that a change was asked."""
    EmailChange.objects.filter(user=user).delete()
    token, token_hash = new_link_token()
    change = EmailChange(user=user, new_email=new_email, token_hash=token_hash)
    change.save()
    audit_append(
        action="accounts.email_change_requested",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk)},
    )
    emails.send_email_change_confirm(change, token)
    emails.send_email_change_notice(user)
    return change


def email_change_pending(token: str) -> EmailChange | None:
    return (
        EmailChange.objects.select_related("user", "user__customer")
        .filter(
            token_hash=link_token_hash(token),
            created_at__gte=timezone.now() - EMAIL_CHANGE_LIFETIME,
            user__is_active=True,
        )
        .first()
    )


@transaction.atomic
def email_change_confirm(*, change: EmailChange) -> User:
    """Make the confirmed address the login address (and the customer's, if it was)."""
    user = change.user
    if User.objects.filter(email_index=change.new_email_index).exclude(pk=user.pk).exists():
        change.delete()
        raise AccountError("this address belongs to another account")
    new_email = change.new_email.reveal(purpose=emails.PURPOSE, actor=MAILER)
    old_email = user.email.reveal(purpose=emails.PURPOSE, actor=MAILER)
    customer = user.customer
    if customer is not None and customer.email_index == user.email_index:
        customer.email = new_email
        customer.save(update_fields=["email", "email_index"])
    user.email = new_email
    user.save(update_fields=["email", "email_index"])
    change.delete()
    audit_append(
        action="accounts.email_changed",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk)},
    )
    emails.send_email_changed(user, old_email)
    return user


# --- staff --------------------------------------------------------------------------


class DutiesRefused(AccountError):
    """A change of roles the separation of duties forbids; `code` says which rule."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def _duties() -> SeparationOfDuties:
    return current_policy().separation_of_duties


def roles_check_compatible(roles: set[str]) -> None:
    """Refuse a set of roles that holds a pair the policy declares incompatible."""
    for pair in _duties().incompatible:
        if set(pair.roles) <= roles:
            raise DutiesRefused("incompatible", "+".join(pair.roles))


def _active_admins() -> list[User]:
    staff = User.objects.filter(kind=User.Kind.STAFF, is_active=True)
    return [u for u in staff if "admin" in u.role_set]


def _open_grants(staff: User) -> set[str]:
    return set(
        RoleGrant.objects.filter(staff=staff, decided_at__isnull=True).values_list(
            "role", flat=True
        )
    )


def _grant_request(*, staff: User, role: str, by: User) -> RoleGrant:
    grant, _created = RoleGrant.objects.get_or_create(
        staff=staff, role=role, decided_at__isnull=True, defaults={"requested_by": by}
    )
    audit_append(
        action="accounts.role_grant_requested",
        actor=by.actor().ref,
        subject=staff.pk,
        data={"user": str(staff.pk), "role": role, "grant": grant.pk},
    )
    return grant


@transaction.atomic
def staff_invite(*, email: str, roles: list[str], by: User | None, name: str = "") -> User:
    """A staff account without a password: the activation link lets them set one.

    Roles the policy calls privileged wait for a second admin's approval when an admin
    invites; `manage.py staff_invite` (by=None, the operator on the server) sets them
    at once, which is how the first administrator comes to be.
    """
    validators.validate_email_address(email)
    if User.objects.get_by_email(email) is not None:
        raise AccountError("an account with this address exists")
    wanted = set(roles) & set(ROLE_KEYS)
    roles_check_compatible(wanted)
    privileged = set(_duties().privileged) if by is not None else set()
    user = User(
        email=email,
        kind=User.Kind.STAFF,
        roles=sorted(wanted - privileged),
        display_name=" ".join(name.split()),
    )
    user.set_unusable_password()
    user.save()
    audit_append(
        action="accounts.staff_invited",
        actor=by.actor().ref if by else "system:manage.py",
        subject=user.pk,
        data={"user": str(user.pk), "roles": user.roles},
    )
    if by is not None:
        for role in sorted(wanted & privileged):
            _grant_request(staff=user, role=role, by=by)
    emails.send_activation(user)
    return user


@transaction.atomic
def staff_roles_set(*, staff: User, roles: list[str], by: User) -> list[RoleGrant]:
    """Set a staff member's roles under the policy's separation of duties.

    Nobody changes their own roles; no pair the policy declares incompatible (counting
    roles still waiting for approval); the last administrator keeps the role. Roles
    taken away go at once; privileged roles given wait for a second admin
    (role_grant_decide), the others are given at once. Returns the grants asked.
    """
    if not staff.is_staff_member:
        raise AccountError("only staff have roles")
    if staff.pk == by.pk:
        raise DutiesRefused("own_roles")
    staff = User.objects.select_for_update().get(pk=staff.pk)
    new = set(roles) & set(ROLE_KEYS)
    roles_check_compatible(new | (_open_grants(staff) & new))
    before = set(staff.role_set)
    if "admin" in before - new and not [u for u in _active_admins() if u.pk != staff.pk]:
        raise DutiesRefused("last_admin")
    privileged = set(_duties().privileged)
    now = sorted((before & new) | (new - before - privileged))
    staff.roles = now
    staff.save(update_fields=["roles"])
    audit_append(
        action="accounts.roles_changed",
        actor=by.actor().ref,
        subject=staff.pk,
        data={"user": str(staff.pk), "before": sorted(before), "after": now},
    )
    # A role taken away also withdraws a request for it that still waits.
    RoleGrant.objects.filter(staff=staff, decided_at__isnull=True).exclude(role__in=new).update(
        decided_at=timezone.now(), decided_by=by, approved=False
    )
    return [
        _grant_request(staff=staff, role=role, by=by)
        for role in sorted((new - before) & privileged)
    ]


@transaction.atomic
def role_grant_decide(*, grant: RoleGrant, approve: bool, by: User) -> RoleGrant:
    """A second administrator approves or refuses a privileged role asked by another."""
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.decided_at is not None:
        raise DutiesRefused("decided")
    if "admin" not in by.role_set:
        raise DutiesRefused("not_admin")
    if by.pk in (grant.requested_by_id, grant.staff_id):
        raise DutiesRefused("second_admin")
    staff = User.objects.select_for_update().get(pk=grant.staff_id)
    if approve:
        roles_check_compatible(set(staff.role_set) | {grant.role})
        if not staff.is_active:
            raise DutiesRefused("inactive")
        staff.roles = sorted(set(staff.role_set) | {grant.role})
        staff.save(update_fields=["roles"])
    grant.decided_by = by
    grant.decided_at = timezone.now()
    grant.approved = approve
    grant.save(update_fields=["decided_by", "decided_at", "approved"])
    audit_append(
        action="accounts.role_grant_decided",
        actor=by.actor().ref,
        subject=staff.pk,
        data={"user": str(staff.pk), "role": grant.role, "approved": approve, "grant": grant.pk},
    )
    return grant


@transaction.atomic
def user_deactivate(*, user: User, by: User) -> None:
    """Switch an account off. Its sessions end at their next request (see the backend)."""
    if user.pk == by.pk:
        raise AccountError("you cannot switch off your own account")
    if "admin" in user.role_set and not [u for u in _active_admins() if u.pk != user.pk]:
        raise DutiesRefused("last_admin")
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_append(
        action="accounts.deactivated",
        actor=by.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk)},
    )


@transaction.atomic
def customer_search(*, text: str, by: User) -> list[Customer]:
    """Exact-match search through the blind indexes; what was searched is not kept."""
    found = customers_matching(text)
    audit_append(
        action="backoffice.customer_search", actor=by.actor().ref, data={"found": len(found)}
    )
    return found


LegalFormFollower = Callable[[Customer, Actor], None]
_legal_form_followers: list[LegalFormFollower] = []


def register_legal_form_follower(follow: LegalFormFollower) -> LegalFormFollower:
    """Add what must follow a changed legal form (domains: SIDN holds it in a contact).

    It runs inside `legal_form_set`'s transaction: a follower that fails undoes the change.
    """
    if follow not in _legal_form_followers:
        _legal_form_followers.append(follow)
    return follow


@transaction.atomic
def legal_form_set(*, customer: Customer, legal_form: str, by: User) -> bool:
    """The organisation's legal form as its customer chose it; False when unchanged."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if locked.kind != Customer.Kind.ORGANISATION:
        raise AccountError("not_an_organisation")
    if legal_form not in ("", *LegalForm.values):
        raise AccountError("unknown_legal_form")
    if locked.legal_form == legal_form:
        return False
    legal_form_apply(customer=locked, legal_form=legal_form, actor=by.actor())
    return True


def legal_form_apply(*, customer: Customer, legal_form: str, actor: Actor) -> None:
    """Store a changed legal form, audit it and run its followers; the caller holds the
    customer's row (legal_form_set, or the checkout that creates or locks it) and has
    checked the value."""
    old = customer.legal_form
    customer.legal_form = legal_form
    customer.save(update_fields=["legal_form"])
    audit_append(
        action="accounts.legal_form_set",
        actor=actor.ref,
        subject=customer.pk,
        data={"from": old, "to": legal_form},
    )
    for follow in _legal_form_followers:
        follow(customer, actor)
