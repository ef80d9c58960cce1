"""Erased customers in the back office: every page shows "gewist", never a 500.

Every back-office page of the access-control harness is opened, by a staff member
with a role it allows, for objects of a customer who has since been erased (orders,
invoices, payments, requests, questions made before the erasure).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kluis.rights import erasure, services
from kluis.rights.models import Erasure
from kluis.testing import ROUTES, log_in, make_staff

pytestmark = pytest.mark.django_db(databases="__all__")


def test_no_back_office_page_fails_for_an_erased_customer(personas, monkeypatch):
    pages: list[tuple[str, str, frozenset[str]]] = []
    for name, route in sorted(ROUTES.items()):
        if route.audience != "backoffice" or route.method != "get":
            continue
        kwargs: dict[str, Any] | None = route.kwargs(personas) if route.kwargs else None
        pages.append((name, reverse(name, kwargs=kwargs), route.roles))
    # Whatever the objects above still have running, the erasure goes ahead, as it
    # would once they are settled.
    monkeypatch.setattr(erasure, "_blockers", [])
    services.erasure_request_from_portal(user=personas.alice)
    assert Erasure.objects.filter(subject=personas.customer_a.pk).exists()
    failed: dict[str, str] = {}
    staff: dict[frozenset[str], Any] = {}
    for name, url, roles in pages:
        if roles not in staff:
            staff[roles] = make_staff(roles=sorted(roles) or ["admin"])
        client = Client(raise_request_exception=False)
        log_in(client, staff[roles])
        response = client.get(url)
        if response.status_code >= 500:
            failed[name] = f"{url} -> {response.status_code}"
    assert failed == {}
