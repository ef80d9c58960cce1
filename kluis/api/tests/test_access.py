"""The access harness of the API: every operation in kluis.testing.ROUTES (audience
"api") with no token, a wrong one, an expired and a revoked one, another customer's,
and the right one."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kluis.api.models import ApiToken
from kluis.api.scopes import SCOPES
from kluis.api.testing import bearer, service_token, token_for
from kluis.api.tokens import digest, token_revoke
from kluis.testing import ROUTES, STAFF_ROLES, Personas, Route, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")

API = sorted(n for n, r in ROUTES.items() if r.audience == "api")


def _call(client: Client, route: Route, url: str, personas: Personas, token: str | None):
    headers = bearer(token) if token else {}
    body = json.dumps(route.data(personas)) if route.data else ""
    return client.generic(
        route.method.upper(), url, body, content_type="application/json", **headers
    )


def _right_token(route: Route, personas: Personas) -> str:
    holders = SCOPES[route.scope].holders
    if "service" in holders:
        return service_token(personas.staff["admin"], [route.scope])
    if "staff" in holders:
        return token_for(personas.staff[sorted(route.roles)[0]], [route.scope])
    return token_for(personas.alice, [route.scope])


def _problem(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["status"] == status


def test_every_operation_of_the_api_is_in_the_harness():
    from kluis.testing import url_patterns

    operations = {p.name for p in url_patterns() if p.route.startswith("api/v1/")}
    operations -= {"api:api-root", "api:openapi-json", "api-reference", "api-home"}
    assert operations == set(API)


@pytest.mark.parametrize("name", API)
def test_only_the_right_token_opens_an_operation(client, personas, settings, request, name):
    settings.KLUIS_ALLOWLIST_LOCAL = True  # the test client comes from 127.0.0.1
    route = ROUTES[name]
    if route.scope == "domains:write":  # these speak EPP: to the local registry
        request.getfixturevalue("registries_local")
    url = reverse(name, kwargs=route.kwargs(personas) if route.kwargs else None)

    _problem(_call(client, route, url, personas, None), 401)
    _problem(_call(client, route, url, personas, "kluis_pat_" + "x" * 43), 401)

    others = [k for k in SCOPES if k != route.scope and "customer" in SCOPES[k].holders]
    _problem(_call(client, route, url, personas, token_for(personas.alice, others)), 403)

    right = _right_token(route, personas)
    row = ApiToken.objects.get(secret_hash=digest(right))
    if route.roles:  # a staff member with the scope but without the role
        other_staff = make_staff(roles=[next(r for r in STAFF_ROLES if r not in route.roles)])
        _problem(_call(client, route, url, personas, token_for(other_staff, [route.scope])), 403)
    if route.kwargs and "customer" in SCOPES[route.scope].holders:
        bobs = token_for(personas.bob, [route.scope])
        _problem(_call(client, route, url, personas, bobs), 404)

    response = _call(client, route, url, personas, right)
    assert 200 <= response.status_code < 300, (name, response.status_code, response.content)
    if not ApiToken.objects.filter(pk=row.pk).exists():  # an erasure: gone with the account
        _problem(_call(client, route, url, personas, right), 401)
        return
    row.refresh_from_db()
    assert row.last_used_at is not None

    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    _problem(_call(client, route, url, personas, right), 401)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() + dt.timedelta(days=1))
    revoker = row.user or personas.staff["admin"]
    token_revoke(token=row, by=revoker)
    _problem(_call(client, route, url, personas, right), 401)
