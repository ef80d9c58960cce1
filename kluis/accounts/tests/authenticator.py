"""A FIDO2 authenticator in software, for the ceremony tests.

It answers the options kluis hands out the way a browser and an authenticator do
together (W3C WebAuthn Level 3): clientDataJSON as the browser writes it, authenticator
data with its flags and counter (§6.1), attestation "none" as a CBOR map (§8.7), an
ES256 key as a COSE_Key (RFC 9053), and the credential serialised as the browser's
PublicKeyCredential.toJSON() does, including the registration fields that toJSON()
adds (publicKey, publicKeyAlgorithm, authenticatorData) and the key Chromium
sometimes adds to clientDataJSON to keep servers from comparing it to a template.
Every part can be bent (origin, RP id, flags, counter) to play an attacker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40
CHROMIUM_EXTRA = {
    "other_keys_can_be_added_here": (
        "do not compare clientDataJSON against a template. See https://goo.gl/yabPex"
    )
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential on one authenticator: ES256, with or without a counter."""

    def __init__(
        self,
        *,
        counter: bool = True,
        synced: bool = False,
        transports: tuple[str, ...] = ("usb",),
    ) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counts = counter
        self.sign_count = 0
        self.synced = synced
        self.transports = list(transports)
        self.user_handle: bytes | None = None

    # --- the parts ----------------------------------------------------------------

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def authenticator_data(
        self, rp_id: str, *, attested: bool, up: bool = True, uv: bool = True
    ) -> bytes:
        flags = (FLAG_UP if up else 0) | (FLAG_UV if uv else 0)
        if self.synced:
            flags |= FLAG_BE | FLAG_BS
        if attested:
            flags |= FLAG_AT
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
        data += struct.pack(">I", self.sign_count)
        if attested:
            data += bytes(16)  # AAGUID: all zero, as for attestation "none"
            data += struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self.cose_key()
        return data

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str, *, extra: bool = False) -> bytes:
        data: dict[str, Any] = {
            "type": kind,
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": False,
        }
        if extra:
            data.update(CHROMIUM_EXTRA)
        return json.dumps(data, separators=(",", ":")).encode()

    # --- the ceremonies ------------------------------------------------------------

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        uv: bool = True,
        challenge: str | None = None,
        extra: bool = False,
    ) -> str:
        """navigator.credentials.create() as the browser's toJSON() gives it back."""
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self.client_data(
            "webauthn.create", challenge or options["challenge"], origin, extra=extra
        )
        auth_data = self.authenticator_data(rp_id or options["rp"]["id"], attested=True, uv=uv)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        public_key = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "clientExtensionResults": {"credProps": {"rk": True}},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": self.transports,
                    "publicKeyAlgorithm": -7,
                    "publicKey": b64url(public_key),
                    "authenticatorData": b64url(auth_data),
                },
            }
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        uv: bool = True,
        up: bool = True,
        challenge: str | None = None,
        user_handle: bytes | None = None,
        extra: bool = False,
    ) -> str:
        """navigator.credentials.get() as the browser's toJSON() gives it back."""
        if self.counts:
            self.sign_count += 1
        client_data = self.client_data(
            "webauthn.get", challenge or options["challenge"], origin, extra=extra
        )
        auth_data = self.authenticator_data(rp_id or options["rpId"], attested=False, up=up, uv=uv)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = user_handle if user_handle is not None else self.user_handle
        response: dict[str, Any] = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if handle is not None:
            response["userHandle"] = b64url(handle)
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "clientExtensionResults": {},
                "response": response,
            }
        )
