"""Links for confirming a request and uploading an ID copy: signed, expiring, single-use.

A link is the request id and an HMAC of (purpose, id, nonce) under a keystore secret.
The row keeps only the nonce, so neither the database nor the outbox (which renders
the link at delivery from the request id) holds a working link; a new nonce, or
none, makes every earlier link stop working.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import uuid

from django.utils import timezone

from kluis.rights.models import RightsRequest
from kluis.vault.keys import system_secret

CONFIRM = "confirm"
UPLOAD = "upload"
LIFETIME = {CONFIRM: dt.timedelta(hours=24), UPLOAD: dt.timedelta(days=7)}


def new_nonce(request: RightsRequest, purpose: str) -> None:
    """Arm the request for one link (the caller saves the row)."""
    request.link_nonce = secrets.token_hex(16)
    request.link_expires_at = timezone.now() + LIFETIME[purpose]


def _mac(request_id: uuid.UUID, nonce: str, purpose: str) -> str:
    digest = hmac.new(
        system_secret("rights_links"), f"{purpose}|{request_id}|{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def link_token(request: RightsRequest, purpose: str) -> str:
    return f"{request.pk.hex}{_mac(request.pk, request.link_nonce, purpose)}"


def request_for_token(token: str, purpose: str) -> RightsRequest | None:
    """The request a live link of this purpose belongs to, or None."""
    try:
        request_id = uuid.UUID(hex=token[:32])
    except ValueError:
        return None
    request = RightsRequest.objects.filter(pk=request_id).first()
    if request is None or not request.link_nonce or request.link_expires_at is None:
        return None
    if request.link_expires_at < timezone.now():
        return None
    expected = _mac(request.pk, request.link_nonce, purpose)
    if not hmac.compare_digest(expected.encode(), token[32:].encode()):
        return None
    return request
