"""Bearer tokens per operation: who may call it and with which scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from kluis.accounts.models import Customer
from kluis.api import quiet
from kluis.api.problems import Problem
from kluis.api.scopes import SCOPES
from kluis.api.tokens import Caller, authenticate, digest, rate_count, still_usable


class TokenAuth(HttpBearer):
    """Accepts a token holding `scope`; for staff endpoints also one of `roles`.

    An unknown, expired or revoked token is a 401; a known token without the scope,
    of the wrong holder or (staff) without the role, a 403; over the rate limit, a 429
    with Retry-After. The caller is kept on the request for the audit of its use
    (kluis.api.middleware).
    """

    def __init__(self, scope: str, *, roles: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.scope = SCOPES[scope]
        self.roles = roles

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        caller = authenticate(token)
        if caller is None:
            return None
        return self.admit(request, caller)

    def admit(self, request: HttpRequest, caller: Caller) -> Caller:
        """Count the request against the limit, then check the scope and the roles."""
        request.api_caller = caller  # type: ignore[attr-defined]
        repeats = quiet.repeats_take(caller.token.pk)
        counted, wait = rate_count(caller.token, extra=repeats, now=quiet.clock())
        request.api_repeats = repeats  # type: ignore[attr-defined]
        request.api_counted = counted  # type: ignore[attr-defined]
        if wait:
            raise Problem(
                "rate-limited",
                _("Dit token heeft te veel verzoeken gedaan; probeer het over %(s)d seconden.")
                % {"s": wait},
                headers={"Retry-After": str(wait)},
            )
        if caller.holder not in self.scope.holders or self.scope.key not in caller.token.scopes:
            raise Problem(
                "forbidden",
                _("Dit token heeft de bevoegdheid %(scope)s niet.") % {"scope": self.scope.key},
            )
        if self.roles and not caller.actor.roles & self.roles:
            raise Problem("forbidden", _("Je rol geeft geen toegang tot dit deel van de API."))
        return caller


class PollAuth(TokenAuth):
    """TokenAuth for a node's poll: an unchanged fetch after one already recorded in
    this minute is answered without a write (kluis/api/quiet.py)."""

    def __init__(self, scope: str, *, unchanged: Callable[[HttpRequest, Caller], bool]) -> None:
        super().__init__(scope)
        self.unchanged = unchanged

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        minute = int(quiet.clock() // 60)
        secret = digest(token)
        # A service token already admitted in this process: one plain read says it is
        # still neither revoked nor expired (its scopes never change).
        kept = quiet.caller_kept(secret)
        if (
            kept is not None
            and quiet.quiet_allowed(kept.token.pk, minute, settings.KLUIS_API_RATE_PER_MINUTE)
            and still_usable(secret)
            and self.unchanged(request, kept)
        ):
            request.api_caller = kept  # type: ignore[attr-defined]
            request.api_quiet = True  # type: ignore[attr-defined]
            return kept
        caller = authenticate(token)
        if caller is None:
            return None
        request.api_window = minute  # type: ignore[attr-defined]
        admitted = self.admit(request, caller)
        if admitted.holder == "service":
            quiet.caller_keep(secret, admitted)
        return admitted


def caller_of(request: HttpRequest) -> Caller:
    auth: Any = getattr(request, "auth", None)
    assert isinstance(auth, Caller)
    return auth


def customer_of(request: HttpRequest) -> Customer:
    """The customer a customer's token acts for."""
    customer = caller_of(request).user.customer
    assert customer is not None
    return customer


def guard(
    scope: str, *, roles: frozenset[str] = frozenset(), extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An operation's `auth` and its OpenAPI security: the scheme with its scope."""
    openapi: dict[str, Any] = {"security": [{"TokenAuth": [scope]}]}
    if roles:
        openapi["x-roles"] = sorted(roles)
    openapi.update(extra or {})
    return {"auth": TokenAuth(scope, roles=roles), "openapi_extra": openapi}


def poll_guard(scope: str, *, unchanged: Callable[[HttpRequest, Caller], bool]) -> dict[str, Any]:
    """`guard` for a node's poll whose unchanged answers are audited quietly."""
    return {
        "auth": PollAuth(scope, unchanged=unchanged),
        "openapi_extra": {"security": [{"TokenAuth": [scope]}]},
    }
