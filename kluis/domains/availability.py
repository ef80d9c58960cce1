"""The shop's live availability check: one domain:check at the name's registry.

- **Rate limit.** Each visitor address may have 30 names checked at a registry per
  15 minutes (the throttle table, so every web node counts together); answers from
  the cache do not count.
- **Cache.** An answer is kept for a minute under an HMAC of the name (the cache
  holds no plain names); a registry that could not be reached is not asked again for
  30 seconds, so a registry that is down does not hold up every visitor.
- **Web sessions.** The web process has its own small pool per registry with short
  timeouts: a visitor waits seconds, not the worker's half minute.
- **Answers.** avail=1 is free. avail=0 is taken when the registry says the name is
  in use (or gives no reason), and otherwise not possible, with the registry's own
  reason (reserved, blocked). A registry's 2005 or 2306 on the check is "not
  possible" too; every other failure leaves the name unchecked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import re
from collections.abc import Callable
from contextlib import AbstractContextManager

from django.conf import settings
from django.core.cache import cache

from kluis.accounts import throttle
from kluis.domains.epp.client import EppClient, EppCommandFailed, EppError, connect_and_login
from kluis.domains.epp.pool import PoolExhausted, SessionPool
from kluis.domains.registries import (
    REGISTRIES,
    NotConfigured,
    Registry,
    UnknownTld,
    endpoint,
    registry_for,
)
from kluis.shop.availability import Answer, Verdict
from kluis.vault.keys import system_secret

CHECK_ADDRESS = throttle.Rule(
    "domain-check-address", 30, dt.timedelta(minutes=15), dt.timedelta(minutes=15)
)
CACHE_SECONDS = 60
DOWN_SECONDS = 30
WEB_TIMEOUT = 5.0
# The registries' words for a name that is registered (RFC 5731 leaves them free).
_IN_USE = re.compile(r"\b(in use|registered|exists|taken|not available)\b", re.IGNORECASE)
# Result codes on a check that say the name itself cannot be registered.
_NAME_REFUSED = {2005, 2306}

SessionFor = Callable[[Registry], AbstractContextManager[EppClient]]


@functools.cache
def web_pool(key: str) -> SessionPool:
    """One session per registry per web process, with a visitor's patience."""
    ep = endpoint(REGISTRIES[key])
    ep = dataclasses.replace(ep, timeout=min(WEB_TIMEOUT, float(settings.KLUIS_EPP_TIMEOUT)))

    def open_session() -> EppClient:
        return connect_and_login(ep)

    return SessionPool(open_session, max_sessions=1, wait=WEB_TIMEOUT)


def _web_session(registry: Registry) -> AbstractContextManager[EppClient]:
    return web_pool(registry.key).session()


def _cache_key(kind: str, value: str) -> str:
    digest = hmac.new(system_secret("domain-check"), value.encode(), hashlib.sha256)
    return f"kluis:domains:{kind}:{digest.hexdigest()[:40]}"


def _verdict(registry: Registry, domain: str, epp: EppClient) -> Answer:
    try:
        answers = epp.domain_check([domain])
    except EppCommandFailed as exc:
        if exc.code in _NAME_REFUSED:
            return Answer(Verdict.NOT_POSSIBLE, reason=exc.response.explain())
        raise
    mine = [a for a in answers if a.name.lower().rstrip(".") == domain]
    if not mine:
        raise EppError(f"{registry.name} did not answer for the name asked")
    if mine[0].available:
        return Answer(Verdict.FREE)
    reason = mine[0].reason
    if not reason or _IN_USE.search(reason):
        return Answer(Verdict.TAKEN, reason=reason)
    return Answer(Verdict.NOT_POSSIBLE, reason=reason)


def domain_available(
    domain: str,
    client_address: str,
    *,
    session_for: SessionFor | None = None,
) -> Answer:
    """Whether `domain` (A-labels, lower case, validated by the shop's form) is free."""
    try:
        registry = registry_for(domain)
    except UnknownTld:
        return Answer(Verdict.NOT_POSSIBLE)
    keys = [throttle.key_for(CHECK_ADDRESS, client_address)]
    seconds = throttle.blocked_seconds(keys)
    if seconds:
        return Answer(Verdict.THROTTLED, seconds=seconds)
    name_key = _cache_key("name", domain)
    cached = cache.get(name_key)
    if cached is not None:
        verdict, reason = cached
        return Answer(Verdict(verdict), reason=reason)
    down_key = _cache_key("down", registry.key)
    if cache.get(down_key):
        return Answer(Verdict.UNCHECKED)
    throttle.throttle_fail(keys=keys)
    try:
        with (session_for or _web_session)(registry) as epp:
            answer = _verdict(registry, domain, epp)
    except NotConfigured:
        return Answer(Verdict.NOT_ASKED)
    except (EppCommandFailed, PoolExhausted):
        return Answer(Verdict.UNCHECKED)  # the registry's trouble (2400, 2502) or busy: later
    except (EppError, OSError):  # OSError: the TLS set-up (a missing CA file)
        cache.set(down_key, True, DOWN_SECONDS)
        return Answer(Verdict.UNCHECKED)
    cache.set(name_key, (answer.verdict.value, answer.reason), CACHE_SECONDS)
    return answer
