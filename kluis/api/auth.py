"""Bearer tokens per operation: who may call it and with which scope."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from kluis.accounts.models import Customer
from kluis.api.problems import Problem
from kluis.api.scopes import SCOPES
from kluis.api.tokens import Caller, authenticate, rate_limit


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
        request.api_caller = caller  # type: ignore[attr-defined]
        wait = rate_limit(caller.token)
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
