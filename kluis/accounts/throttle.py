"""Throttling of login, password reset and MFA: per account and per client address.

A rule allows `limit` failures within `window`; the next one blocks its key for
`cool_off`. Attempts during a block are refused without being counted, so a flood
cannot stretch a block: it ends `cool_off` after it began. On top of that, a browser
that completed a login to an account before carries a signed device cookie and is
counted under its own key (OWASP's "device cookies"), so an attacker's flood against
an account never locks out its owner's own browser.

Keys are HMACs (a key of the vault's keystore) of the scope and the blind index or
address: the table holds nobody's email address or IP address. It is a table, not a
per-process cache, so every web node sees the same counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from kluis.accounts.models import Throttle
from kluis.vault.keys import system_secret


@dataclass(frozen=True)
class Rule:
    scope: str
    limit: int
    window: dt.timedelta
    cool_off: dt.timedelta


_15_MIN = dt.timedelta(minutes=15)
_HOUR = dt.timedelta(hours=1)

LOGIN_ACCOUNT = Rule("login-account", 5, _15_MIN, _15_MIN)
LOGIN_DEVICE = Rule("login-device", 10, _15_MIN, _15_MIN)
LOGIN_ADDRESS = Rule("login-address", 30, _15_MIN, _15_MIN)
MFA_ACCOUNT = Rule("mfa-account", 5, _15_MIN, _15_MIN)
MFA_ADDRESS = Rule("mfa-address", 20, _15_MIN, _15_MIN)
# The password asked again before a passkey is removed.
REAUTH_ACCOUNT = Rule("reauth-account", 5, _15_MIN, _15_MIN)
RESET_ACCOUNT = Rule("reset-account", 3, _HOUR, _HOUR)
RESET_ADDRESS = Rule("reset-address", 10, _HOUR, _HOUR)
SIGNUP_ADDRESS = Rule("signup-address", 10, _HOUR, _HOUR)
# The public withdrawal form (kluis/shop/withdrawal.py): per order number and per address.
WITHDRAW_ORDER = Rule("withdraw-order", 3, _HOUR, _HOUR)
WITHDRAW_ADDRESS = Rule("withdraw-address", 10, _HOUR, _HOUR)


@dataclass(frozen=True)
class Key:
    rule: Rule
    value: str


def key_for(rule: Rule, identity: str) -> Key:
    secret = system_secret("throttle")
    digest = hmac.new(secret, f"{rule.scope}|{identity}".encode(), hashlib.sha256).hexdigest()
    return Key(rule, f"{rule.scope}:{digest[:48]}")


def mfa_keys(user_id: str, address: str) -> list[Key]:
    """The second step's keys: app codes, recovery codes and passkeys count together."""
    return [key_for(MFA_ACCOUNT, user_id), key_for(MFA_ADDRESS, address)]


def client_ref(address: str) -> str:
    """A pseudonym of a client address for the audit log: stable, not reversible."""
    digest = hmac.new(system_secret("throttle"), f"client|{address}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def blocked_seconds(keys: list[Key]) -> int:
    """How long the longest block among `keys` still lasts (0: not blocked)."""
    now = timezone.now()
    until = (
        Throttle.objects.filter(key__in=[k.value for k in keys], blocked_until__gt=now)
        .order_by("-blocked_until")
        .values_list("blocked_until", flat=True)
        .first()
    )
    return 0 if until is None else max(1, int((until - now).total_seconds()))


@transaction.atomic
def throttle_fail(*, keys: list[Key]) -> None:
    """Count one failure under each key; block a key that passes its limit."""
    now = timezone.now()
    for key in keys:
        row = Throttle.objects.select_for_update().filter(key=key.value).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Throttle.objects.create(key=key.value, window_started_at=now)
            except IntegrityError:
                row = Throttle.objects.select_for_update().get(key=key.value)
        if row.blocked_until is not None and row.blocked_until > now:
            continue
        if now - row.window_started_at > key.rule.window:
            row.failures = 0
            row.window_started_at = now
        row.failures += 1
        row.blocked_until = None
        if row.failures >= key.rule.limit:
            row.blocked_until = now + key.rule.cool_off
            row.failures = 0
            row.window_started_at = now
        row.save()


@transaction.atomic
def throttle_clear(*, keys: list[Key]) -> None:
    Throttle.objects.filter(key__in=[k.value for k in keys]).delete()
