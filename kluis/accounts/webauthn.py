"""The WebAuthn ceremonies of passkeys, on py_webauthn (Duo Labs' `webauthn`).

The relying party's id and origin come from KLUIS_BASE_URL, never from the request:
a browser signs the origin it really is on into every response, so a page served
under a forged Host header (or on another site) gets signatures that fail here.

Every challenge is 32 random bytes, kept in the session of the one ceremony it was
made for, bound to one user, valid for five minutes and taken out of the session
before the response is checked: a response can be checked once. Every ceremony asks
for user verification (a PIN, a fingerprint, a face) and refuses a response without
it, so a passkey is something you have and something you know or are.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

CHALLENGE_BYTES = 32
CHALLENGE_SECONDS = 300
# A browser's response is a few hundred bytes to a few kilobytes (attestation
# certificates); anything far larger is not a WebAuthn response.
MAX_RESPONSE_BYTES = 64 * 1024
TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


class CeremonyError(Exception):
    """A WebAuthn response was refused; `reason` says why, for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str


def relying_party() -> RelyingParty:
    """Who we are to the authenticator: the host and origin of KLUIS_BASE_URL."""
    url = urlsplit(settings.KLUIS_BASE_URL)
    host = (url.hostname or "").lower()
    default_port = {"https": 443, "http": 80}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default_port else ""
    origin = f"{url.scheme}://{host}{port}"
    return RelyingParty(id=host, origin=origin, name=settings.OTP_TOTP_ISSUER)


def passkeys_possible() -> bool:
    """WebAuthn needs a domain name (not an IP address) and https (or localhost)."""
    rp = relying_party()
    try:
        ipaddress.ip_address(rp.id)
    except ValueError:
        pass
    else:
        return False
    return bool(rp.id) and (rp.origin.startswith("https://") or rp.id == "localhost")


@dataclass(frozen=True)
class Challenge:
    """One ceremony's challenge as kept in the session."""

    kind: str  # "register" or "login"
    user: str
    value: str  # base64url
    issued_at: int

    def as_session(self) -> dict[str, Any]:
        return {"kind": self.kind, "user": self.user, "value": self.value, "at": self.issued_at}

    @classmethod
    def from_session(cls, data: object, *, kind: str, user: str) -> Challenge:
        """The kept challenge, if it is of this ceremony and user and still fresh."""
        if not isinstance(data, dict):
            raise CeremonyError("no challenge")
        challenge = cls(
            kind=str(data.get("kind")),
            user=str(data.get("user")),
            value=str(data.get("value")),
            issued_at=int(data.get("at") or 0),
        )
        if challenge.kind != kind or challenge.user != user:
            raise CeremonyError("challenge of another ceremony")
        if time.time() - challenge.issued_at > CHALLENGE_SECONDS:
            raise CeremonyError("challenge expired")
        return challenge

    @property
    def raw(self) -> bytes:
        return base64url_to_bytes(self.value)


def _new_challenge(kind: str, user: str) -> tuple[bytes, Challenge]:
    raw = secrets.token_bytes(CHALLENGE_BYTES)
    return raw, Challenge(kind, user, bytes_to_base64url(raw), int(time.time()))


def credential_hash(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


def user_handle(user_pk: object) -> bytes:
    """The user handle the authenticator keeps: opaque, no name or address in it."""
    return hashlib.sha256(f"kluis-user|{user_pk}".encode()).digest()


def _descriptors(credentials: list[tuple[bytes, list[str]]]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=credential_id,
            transports=[AuthenticatorTransport(t) for t in transports if t in TRANSPORTS],
        )
        for credential_id, transports in credentials
    ]


def registration_options(
    *, user_pk: object, label: str, existing: list[tuple[bytes, list[str]]]
) -> tuple[dict[str, Any], Challenge]:
    """Options for navigator.credentials.create(), and the challenge to keep.

    `label` is what the authenticator shows for the account (the customer number,
    as in the authenticator app); `existing` are the user's passkeys, so one device
    is not registered twice. No attestation is asked: we do not want to know the
    make or model of anyone's device.
    """
    rp = relying_party()
    raw, challenge = _new_challenge("register", str(user_pk))
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle(user_pk),
        user_name=label,
        user_display_name=label,
        challenge=raw,
        timeout=CHALLENGE_SECONDS * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return json.loads(options_to_json(options)), challenge


def authentication_options(
    *, user_pk: object, allowed: list[tuple[bytes, list[str]]]
) -> tuple[dict[str, Any], Challenge]:
    """Options for navigator.credentials.get() with this user's passkeys only."""
    rp = relying_party()
    raw, challenge = _new_challenge("login", str(user_pk))
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=raw,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=_descriptors(allowed),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(options_to_json(options)), challenge


def _parse(response: str) -> dict[str, Any]:
    if len(response) > MAX_RESPONSE_BYTES:
        raise CeremonyError("response too large")
    try:
        data = json.loads(response)
    except ValueError:
        raise CeremonyError("response is not JSON") from None
    if not isinstance(data, dict):
        raise CeremonyError("response is not a JSON object")
    return data


def response_credential_id(response: str) -> bytes:
    """The credential id a response names (unchecked: for finding its passkey)."""
    data = _parse(response)
    try:
        return base64url_to_bytes(str(data["rawId"]))
    except (KeyError, ValueError):
        raise CeremonyError("response names no credential") from None


def response_transports(response: str) -> list[str]:
    data = _parse(response)
    inner = data.get("response")
    found = inner.get("transports") if isinstance(inner, dict) else None
    if not isinstance(found, list):
        return []
    return sorted({t for t in found if isinstance(t, str) and t in TRANSPORTS})


def check_registration(*, response: str, challenge: Challenge) -> VerifiedRegistration:
    """Verify a navigator.credentials.create() response against the kept challenge."""
    data = _parse(response)
    rp = relying_party()
    try:
        return verify_registration_response(
            credential=data,
            expected_challenge=challenge.raw,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise CeremonyError(str(exc) or type(exc).__name__) from None


def check_authentication(
    *, response: str, challenge: Challenge, user_pk: object, public_key: bytes
) -> VerifiedAuthentication:
    """Verify a navigator.credentials.get() response for one stored passkey.

    The signature counter is not checked here (py_webauthn gets 0 as the stored
    count): the caller compares it after the signature holds, so that a counter
    that went backwards is told apart from a bad response.
    """
    data = _parse(response)
    inner = data.get("response")
    handle = inner.get("userHandle") if isinstance(inner, dict) else None
    if handle:
        try:
            handle_bytes = base64url_to_bytes(str(handle))
        except ValueError:
            raise CeremonyError("malformed user handle") from None
        if not secrets.compare_digest(handle_bytes, user_handle(user_pk)):
            raise CeremonyError("user handle of another account")
    rp = relying_party()
    try:
        return verify_authentication_response(
            credential=data,
            expected_challenge=challenge.raw,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise CeremonyError(str(exc) or type(exc).__name__) from None


def counter_went_back(*, stored: int, received: int) -> bool:
    """True when the device's counter did not rise: a sign of a copied key.

    Devices that keep no counter (most synced passkeys) always send 0; for them
    there is nothing to compare.
    """
    return (received > 0 or stored > 0) and received <= stored
