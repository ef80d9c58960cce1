"""Signed checkpoints of the chain head, to keep outside the database.

A checkpoint says "entry #N had hash H", signed with the audit Ed25519 key. Whoever
holds one can later prove that the chain was not rewritten up to N, even by someone
who could edit every row and recompute every hash.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.utils import timezone

from kluis.audit.models import AuditEntry, AuditHead
from kluis.vault.keys import system_secret


def _signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(system_secret("audit_signing"))


def public_key_b64() -> str:
    raw = _signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _message(seq: int, digest: str, at: str) -> bytes:
    return f"kluis-audit-checkpoint|{seq}|{digest}|{at}".encode()


def checkpoint_create() -> dict[str, object]:
    head = AuditHead.objects.get(pk=1)
    at = timezone.now().isoformat()
    signature = _signing_key().sign(_message(head.seq, head.hash, at))
    return {
        "format": "kluis-audit-checkpoint/1",
        "seq": head.seq,
        "hash": head.hash,
        "at": at,
        "public_key": public_key_b64(),
        "signature": base64.b64encode(signature).decode(),
    }


@dataclass(frozen=True)
class CheckpointResult:
    ok: bool
    problem: str = ""


def checkpoint_check(document: str, *, trusted_public_key: str | None = None) -> CheckpointResult:
    try:
        doc = json.loads(document)
        seq, digest, at = int(doc["seq"]), str(doc["hash"]), str(doc["at"])
        public = base64.b64decode(doc["public_key"])
        signature = base64.b64decode(doc["signature"])
    except (ValueError, KeyError, TypeError):
        return CheckpointResult(False, "not a kluis audit checkpoint")
    if trusted_public_key is not None and doc["public_key"] != trusted_public_key:
        return CheckpointResult(False, "signed with another key than the trusted one")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, _message(seq, digest, at))
    except (InvalidSignature, ValueError):
        return CheckpointResult(False, "the signature does not match the checkpoint")
    if seq == 0:
        return CheckpointResult(True)
    entry = AuditEntry.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if entry is None:
        return CheckpointResult(False, f"entry #{seq} of the checkpoint is no longer in the chain")
    if entry != digest:
        return CheckpointResult(False, f"entry #{seq} differs from the checkpoint: rewritten")
    return CheckpointResult(True)
