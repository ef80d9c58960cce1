"""Test helpers of the API: tokens of personas, and a client that sends them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.test import Client

from kluis.accounts.models import User
from kluis.api.models import ApiToken
from kluis.api.scopes import Holder, scopes_for
from kluis.api.tokens import holder_of, personal_token_create, service_token_create

if TYPE_CHECKING:
    from kluis.testing import Personas


def token_for(user: User, scopes: list[str] | None = None, *, days: int = 30) -> str:
    """A personal token of `user`; by default with every scope its holder may have."""
    holder: Holder = "staff" if user.is_staff_member else "customer"
    chosen = scopes if scopes is not None else [s.key for s in scopes_for(holder)]
    return personal_token_create(user=user, name="test", scopes=chosen, days=days)[1]


def service_token(admin: User, scopes: list[str] | None = None, node: Any = None) -> str:
    """A service token; `node`: the HostingNode it is bound to."""
    chosen = scopes if scopes is not None else [s.key for s in scopes_for("service")]
    return service_token_create(name="node-1", scopes=chosen, days=30, by=admin, node=node)[1]


def bearer(token: str, **extra: Any) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", **extra}


def problem_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """The problem+json body of `response`, checked to be `code` with `status`."""
    import json

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == status and body["type"].endswith(f"#problem-{code}"), body
    return body


def api_client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="nl")


__all__ = [
    "ApiToken",
    "api_client",
    "bearer",
    "holder_of",
    "problem_of",
    "service_token",
    "token_for",
]


# --- builders for kluis.testing.ROUTES: objects of Alice ------------------------------


def token_kwargs(p: Personas) -> dict[str, Any]:
    row = personal_token_create(user=p.alice, name="script", scopes=["invoices:read"], days=7)[0]
    return {"token_id": row.pk}


def service_token_kwargs(p: Personas) -> dict[str, Any]:
    admin = p.staff["admin"]
    row = service_token_create(name="node", scopes=["firewall:read"], days=7, by=admin)[0]
    return {"token_id": row.pk}


def allow_entry_kwargs(p: Personas) -> dict[str, Any]:
    from kluis.sites.testing import make_entry, make_site

    entry = make_entry(make_site(p.customer_a), p.alice)
    return {"site_id": entry.site_id, "entry_id": entry.pk}


def order_data(p: Personas) -> dict[str, Any]:
    """An order of a package by Alice, accepting what GET /legal names (in Dutch)."""
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.checkout import cart_for
    from kluis.shop.services import documents_due

    catalogue_load()
    cart = cart_for(token="", products=["webwinkel-start"], domains=[])
    due = documents_due(cart=cart, customer=p.customer_a, start_now=False, language="nl")
    return {
        "products": ["webwinkel-start"],
        "accept": {d.kind: {"version": d.version, "sha256": d.sha256} for d in due},
    }
