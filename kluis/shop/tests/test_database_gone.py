"""The database goes away in the middle of a checkout (a restart, a killed connection):
the visitor gets a clear 503 page, never a traceback, and nothing is half written.

The fault is the Nth SQL statement the request sends to the main database failing as
a dropped connection does (OperationalError), N drawn from a seeded generator over
the statements a clean checkout sends. After each, the visitor's order, account and
confirmation mail exist all together or not at all.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client

from kluis.accounts.models import User
from kluis.mail.models import OutboxMessage
from kluis.shop.models import Order
from kluis.shop.tests.helpers import checkout, fill_cart

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
SEED = int(os.environ.get("KLUIS_KILL_SEED", "20261204"))


class DropAt:
    """An execute wrapper: the `at`-th statement fails like a dropped connection."""

    def __init__(self, at: int = 0) -> None:
        self.at = at
        self.seen = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.seen += 1
        if self.seen == self.at:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


def _state(email: str) -> tuple[bool, bool, bool]:
    user = User.objects.get_by_email(email)
    customer = user.customer if user else None
    orders = Order.objects.filter(customer=customer).count() if customer else 0
    mails = (
        OutboxMessage.objects.filter(
            dedupe_key__startswith="order:", to_subject=customer.pk
        ).count()
        if customer
        else 0
    )
    return user is not None, orders == 1, mails == 1


def test_a_checkout_cut_off_from_its_database_gets_a_503_and_leaves_nothing_half(catalogue):
    client = Client()
    token = fill_cart(client)
    clean = DropAt()
    with connections["default"].execute_wrapper(clean):
        response = checkout(client, token, email="clean@example.nl")
    assert response.status_code == 302
    assert _state("clean@example.nl") == (True, True, True)
    # The first checkout also fills caches (policy, keys, counters); the statements of
    # a second one are what every later checkout sends, so the drop points come from it.
    client = Client()
    token = fill_cart(client)
    steady = DropAt()
    with connections["default"].execute_wrapper(steady):
        response = checkout(client, token, email="steady@example.nl")
    assert response.status_code == 302
    assert steady.seen > 10

    rng = random.Random(SEED)
    points = sorted(rng.sample(range(1, steady.seen + 1), min(8, steady.seen)))
    for n in points:
        client = Client(raise_request_exception=False)
        token = fill_cart(client)
        email = f"cut{n}@example.nl"
        drop = DropAt(n)
        with connections["default"].execute_wrapper(drop):
            response = checkout(client, token, email=email)
        assert drop.seen >= n, (n, drop.seen)  # the fault really happened
        page = response.content.decode()
        assert response.status_code == 503, (n, response.status_code)
        assert response["Retry-After"] == "30"
        assert "Even niet bereikbaar" in page and "Briefly unavailable" in page
        assert "Traceback" not in page and "OperationalError" not in page
        state = _state(email)
        assert state in {(False, False, False), (True, True, True)}, (n, state)
        # The database is back: the visitor's retry places the order, or, when it had
        # gone through before the connection dropped, says so and makes no second one.
        response = checkout(client, token, email=email)
        if state == (True, True, True):
            assert response.status_code == 400, n
            assert "Dit winkelmandje is al besteld" in response.content.decode()
        else:
            assert response.status_code == 302, n
        assert _state(email) == (True, True, True), n


def test_any_other_error_is_still_a_plain_500(rf: Any) -> None:
    from kluis.web.errors import server_error

    request = rf.get("/")
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = server_error(request)
    assert response.status_code == 500
    assert "Er ging bij ons iets mis" in response.content.decode()
    try:
        raise OperationalError("the database is locked")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
