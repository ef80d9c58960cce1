"""Passkeys: registering, listing, using and removing them (services and selectors).

A passkey is a second factor beside the authenticator app, for customers by their
own choice and for staff wherever the app is required. The ceremonies themselves
are in kluis.accounts.webauthn; here are the rules around them: whose passkey may
be used, throttling (the same counts as app codes), clone detection, the audit
entries, and which second factor may not be removed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from kluis.accounts import throttle, webauthn
from kluis.accounts.models import Passkey, PasskeyDevice, User
from kluis.audit.chain import audit_append
from kluis.policy.enforce import Actor
from kluis.vault.reveal import reveal_many

PURPOSE = "account_management"
MAX_NAME_LENGTH = 64
MAX_PASSKEYS = 10


class PasskeyError(Exception):
    """A rule of passkeys refused the request; the message is for the user."""


def _audit(user: User, action: str, **data: object) -> None:
    audit_append(
        action=f"accounts.{action}",
        actor=user.actor().ref,
        subject=user.vault_subject(),
        data={"user": str(user.pk), **data},
    )


def account_label(user: User) -> str:
    """How the account is named on the device: the customer number, as in the app."""
    return user.customer.number if user.customer else _("medewerker")


# --- selectors ------------------------------------------------------------------------


@dataclass(frozen=True)
class PasskeyRow:
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    backed_up: bool
    clone_suspected: bool


def own_passkeys(user: User) -> QuerySet[Passkey]:
    return Passkey.objects.filter(user=user).select_related("user", "user__customer")


def own_passkey(user: User, passkey_id: uuid.UUID) -> Passkey | None:
    return own_passkeys(user).filter(pk=passkey_id).first()


def device_of(user: User) -> PasskeyDevice:
    """The django-otp device a passkey login verifies the session with."""
    found = PasskeyDevice.objects.get_or_create(user=user, defaults={"name": "passkeys"})
    device: PasskeyDevice = found[0]
    return device


def has_passkeys(user: User) -> bool:
    return Passkey.objects.filter(user=user).exists()


def passkeys_listed(user: User, *, only: uuid.UUID | None = None) -> list[PasskeyRow]:
    """The user's own passkeys with their names, read by the user themselves."""
    found = own_passkeys(user)
    rows = list(found.filter(pk=only) if only else found)
    names = reveal_many(rows, ["name"], purpose=PURPOSE, actor=Actor.subject(user.vault_subject()))
    return [
        PasskeyRow(
            id=row.pk,
            name=plain["name"] or "",
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            backed_up=row.backed_up,
            clone_suspected=row.clone_suspected_at is not None,
        )
        for row, plain in zip(rows, names, strict=True)
    ]


def _usable(user: User) -> list[tuple[bytes, list[str]]]:
    rows = Passkey.objects.filter(user=user, clone_suspected_at__isnull=True)
    return [(bytes(c), list(t)) for c, t in rows.values_list("credential_id", "transports")]


# --- registration -----------------------------------------------------------------------


def registration_begin(*, user: User) -> tuple[dict[str, Any], webauthn.Challenge]:
    existing = [
        (bytes(c), list(t))
        for c, t in Passkey.objects.filter(user=user).values_list("credential_id", "transports")
    ]
    return webauthn.registration_options(
        user_pk=user.pk, label=account_label(user), existing=existing
    )


def passkey_register(
    *, user: User, name: str, response: str, challenge: webauthn.Challenge
) -> Passkey:
    """Check a new passkey's registration and keep its public key under `name`.

    Raises webauthn.CeremonyError (audited) when the response does not hold, and
    PasskeyError when a rule refuses it.
    """
    try:
        verified = webauthn.check_registration(response=response, challenge=challenge)
    except webauthn.CeremonyError as exc:
        with transaction.atomic():
            _audit(user, "passkey_register_failed", reason=exc.reason)
        raise
    if Passkey.objects.filter(user=user).count() >= MAX_PASSKEYS:
        raise PasskeyError(_("Je kunt hoogstens %(max)d passkeys hebben.") % {"max": MAX_PASSKEYS})
    passkey = Passkey(
        user=user,
        name=name,
        credential_id=verified.credential_id,
        credential_hash=webauthn.credential_hash(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=webauthn.response_transports(response),
        backup_eligible=verified.credential_device_type == "multi_device",
        backed_up=verified.credential_backed_up,
    )
    try:
        with transaction.atomic():
            passkey.save()
            device_of(user)
            _audit(
                user,
                "passkey_registered",
                passkey=str(passkey.pk),
                backed_up=passkey.backed_up,
            )
    except IntegrityError:
        raise PasskeyError(_("Deze passkey is al ingesteld.")) from None
    return passkey


# --- login --------------------------------------------------------------------------


def login_begin(*, user: User) -> tuple[dict[str, Any], webauthn.Challenge] | None:
    """Options for a login with one of the user's passkeys; None if they have none."""
    allowed = _usable(user)
    if not allowed or not webauthn.passkeys_possible():
        return None
    return webauthn.authentication_options(user_pk=user.pk, allowed=allowed)


@dataclass(frozen=True)
class PasskeyResult:
    device: PasskeyDevice | None
    blocked_seconds: int = 0
    clone_suspected: bool = False


def passkey_login_check(
    *,
    user: User,
    response: str,
    challenge: webauthn.Challenge | None,
    client_address: str,
) -> PasskeyResult:
    """Check a passkey login of `user` (who gave their password already).

    `challenge` is the one kept for this login, already taken out of the session
    (None if there was none). Only the user's own passkeys count: a credential of
    another account is unknown here.
    """
    keys = throttle.mfa_keys(str(user.pk), client_address)
    wait = throttle.blocked_seconds(keys)
    if wait:
        return PasskeyResult(None, wait)
    client = throttle.client_ref(client_address)
    try:
        if challenge is None:
            raise webauthn.CeremonyError("no challenge")
        credential_hash = webauthn.credential_hash(webauthn.response_credential_id(response))
        passkey = own_passkeys(user).filter(credential_hash=credential_hash).first()
        if passkey is None:
            raise webauthn.CeremonyError("unknown credential")
        if passkey.clone_suspected_at is not None:
            raise webauthn.CeremonyError("passkey blocked after a counter went back")
        verified = webauthn.check_authentication(
            response=response,
            challenge=challenge,
            user_pk=user.pk,
            public_key=bytes(passkey.public_key),
        )
    except webauthn.CeremonyError as exc:
        throttle.throttle_fail(keys=keys)
        with transaction.atomic():
            _audit(user, "passkey_failed", reason=exc.reason, client=client)
        return PasskeyResult(None)
    with transaction.atomic():
        locked = Passkey.objects.select_for_update().get(pk=passkey.pk)
        if webauthn.counter_went_back(stored=locked.sign_count, received=verified.new_sign_count):
            locked.clone_suspected_at = timezone.now()
            locked.save(update_fields=["clone_suspected_at"])
            _audit(
                user,
                "passkey_clone_suspected",
                passkey=str(locked.pk),
                stored=locked.sign_count,
                received=verified.new_sign_count,
                client=client,
            )
            clone = True
        else:
            locked.sign_count = verified.new_sign_count
            locked.last_used_at = timezone.now()
            locked.backed_up = verified.credential_backed_up
            locked.save(update_fields=["sign_count", "last_used_at", "backed_up"])
            _audit(user, "passkey_used", passkey=str(locked.pk), client=client)
            clone = False
    if clone:
        throttle.throttle_fail(keys=keys)
        return PasskeyResult(None, clone_suspected=True)
    throttle.throttle_clear(keys=keys[:1])
    return PasskeyResult(device_of(user))


# --- removal --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reauthentication:
    ok: bool
    blocked_seconds: int = 0


def reauthenticate(*, user: User, password: str, client_address: str) -> Reauthentication:
    """Check the password once more before a passkey is removed, throttled."""
    keys = [
        throttle.key_for(throttle.REAUTH_ACCOUNT, str(user.pk)),
        throttle.key_for(throttle.MFA_ADDRESS, client_address),
    ]
    wait = throttle.blocked_seconds(keys)
    if wait:
        return Reauthentication(ok=False, blocked_seconds=wait)
    if user.check_password(password):
        throttle.throttle_clear(keys=keys[:1])
        return Reauthentication(ok=True)
    throttle.throttle_fail(keys=keys)
    with transaction.atomic():
        _audit(user, "reauthentication_failed", client=throttle.client_ref(client_address))
    return Reauthentication(ok=False)


@transaction.atomic
def passkey_remove(*, user: User, passkey: Passkey) -> None:
    """Remove one of the user's passkeys (the caller re-authenticated them).

    Staff keep at least one second factor: their last passkey goes only when an
    authenticator app is set up. A customer's last second factor takes the
    recovery codes with it, as turning two-step verification off does.
    """
    assert passkey.user_id == user.pk
    others = Passkey.objects.filter(user=user).exclude(pk=passkey.pk).exists()
    app = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    if user.is_staff_member and not others and not app:
        raise PasskeyError(
            _("Dit is je laatste tweede stap. Stel eerst een andere passkey of een app in.")
        )
    removed = str(passkey.pk)
    passkey.delete()
    _audit(user, "passkey_removed", passkey=removed)
    if not others and not app:
        from django_otp.plugins.otp_static.models import StaticDevice

        StaticDevice.objects.filter(user=user).delete()
        _audit(user, "mfa_disabled")
