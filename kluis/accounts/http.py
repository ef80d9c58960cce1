"""Request helpers of the accounts views: who is asking, from where, going where."""

from __future__ import annotations

import datetime as dt
import math
import secrets
import time

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.models import Device

from kluis.accounts import services
from kluis.accounts.models import User
from kluis.proxies import client_ip

BACKEND = "kluis.accounts.backends.BlindIndexEmailBackend"
DEVICE_COOKIE = "kluis_device"
DEVICE_SALT = "kluis.accounts.device"
DEVICE_MAX_AGE = dt.timedelta(days=180)
MFA_PENDING = "kluis_mfa_pending"
MFA_PENDING_SECONDS = 300
LAST_SEEN = "kluis_last_seen"


def wait_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return _("Te veel pogingen. Probeer het over %(minutes)d minuten opnieuw.") % {
        "minutes": minutes
    }


def client_address(request: HttpRequest) -> str:
    """The client's address for rate limits and the audit: `REMOTE_ADDR`, or behind a
    trusted proxy the address it forwarded (kluis/proxies.py). A malformed forwarded
    hop counts as the proxy's own address, so it still falls under a limit."""
    address = client_ip(request)
    if address is None:
        return str(request.META.get("REMOTE_ADDR") or "unknown")
    return str(address)


def current_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "a view behind a login decorator"
    return user


def home_for(user: User) -> str:
    return resolve_url("backoffice:home" if user.is_staff_member else "portal:home")


def safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def device_cookie(request: HttpRequest) -> tuple[str, str] | None:
    """(user id, device id) from this browser's signed device cookie, if valid."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not {"u", "d"} <= data.keys():
        return None
    return str(data["u"]), str(data["d"])


def start_mfa(request: HttpRequest, user: User) -> None:
    request.session[MFA_PENDING] = {
        "user": str(user.pk),
        "at": int(time.time()),
        "next": safe_next(request),
    }


def pending_mfa(request: HttpRequest) -> tuple[User, str | None] | None:
    pending = request.session.get(MFA_PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > MFA_PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=str(pending.get("user")), is_active=True).first()
    return (user, pending.get("next")) if user else None


def finish_login(
    request: HttpRequest, user: User, *, device: Device | None, next_url: str | None
) -> HttpResponse:
    """Start the session (a new session key), mark MFA, remember this browser."""
    request.session.pop(MFA_PENDING, None)
    auth_login(request, user, backend=BACKEND)
    if device is not None:
        otp_login(request, device)
    if user.is_staff_member:
        request.session.set_expiry(settings.KLUIS_STAFF_IDLE_SECONDS)
        request.session[LAST_SEEN] = int(time.time())
    services.login_record(user=user, client_address=client_address(request), device=device)
    response = HttpResponseRedirect(next_url or home_for(user))
    known = device_cookie(request)
    device_id = known[1] if known and known[0] == str(user.pk) else secrets.token_hex(8)
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps({"u": str(user.pk), "d": device_id}, salt=DEVICE_SALT),
        max_age=int(DEVICE_MAX_AGE.total_seconds()),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response
