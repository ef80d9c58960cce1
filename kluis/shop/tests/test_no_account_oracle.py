"""No account oracle: checkout and password reset answer a known address as a new one.

An outside test saw "Er is al een account met dit e-mailadres" at checkout, and a
reset that returned early (faster) for an unknown address. Both are compared here
byte for byte, with only the CSRF token, the CSP nonce and the order number masked,
and by the work done: mails sent or queued, audit entries written.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core import mail
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kluis.accounts.services import password_reset_requests_handle
from kluis.audit.models import AuditEntry
from kluis.mail.models import OutboxMessage
from kluis.shop import services
from kluis.shop.models import Acceptance, Order
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

MASKS = [
    (
        re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"'),
        b'name="csrfmiddlewaretoken" value="*"',
    ),
    (re.compile(rb'nonce="[^"]+"'), b'nonce="*"'),
    (re.compile(rb"nonce-[A-Za-z0-9+/=_-]+"), b"nonce-*"),
    (re.compile(rb"B\d{4}-\d{6}"), b"B****-******"),
]


def _masked(content: bytes) -> bytes:
    for pattern, replacement in MASKS:
        content = pattern.sub(replacement, content)
    return content


def _wire(response) -> tuple[int, list[tuple[str, str]], bytes]:
    # Set-Cookie carries a fresh session id and Expires the clock: neither depends on
    # the address.
    headers = sorted(
        (k, v)
        for k, v in response.headers.items()
        if k.lower() not in ("set-cookie", "expires", "date")
    )
    return (
        response.status_code,
        [(k, _masked(v.encode()).decode()) for k, v in headers],
        (_masked(response.content)),
    )


def _work(action) -> tuple[Any, dict[str, Any]]:
    mails_before, outbox_before = len(mail.outbox), OutboxMessage.objects.count()
    audit_before = AuditEntry.objects.count()
    with CaptureQueriesContext(connections["default"]) as queries:
        result = action()
    return result, {
        "mails sent": len(mail.outbox) - mails_before,
        "mails queued": sorted(
            OutboxMessage.objects.order_by("-created_at").values_list("template", flat=True)[
                : OutboxMessage.objects.count() - outbox_before
            ]
        ),
        "audit entries": AuditEntry.objects.count() - audit_before,
        "queries": len(queries),
    }


def _checkout_as_visitor(email: str) -> tuple[Any, Any, dict[str, Any]]:
    visitor = Client()
    token = fill_cart(visitor)
    response, work = _work(lambda: checkout(visitor, token, email=email))
    page = visitor.get(response["Location"])
    return _wire(response), _wire(page), work


def test_checkout_answers_a_known_address_exactly_as_a_new_one(personas, catalogue):
    known_post, known_page, known_work = _checkout_as_visitor("alice@example.nl")
    new_post, new_page, new_work = _checkout_as_visitor("nieuw@example.nl")

    assert known_post == new_post
    assert known_post[0] == 302
    assert known_page == new_page
    assert b"al een account" not in known_page[2]
    # One mail from accounts (the activation link, or "someone used your address"),
    # one order confirmation in the outbox, and the same audit trail, for both.
    assert known_work["mails sent"] == new_work["mails sent"] == 1
    assert known_work["mails queued"] == new_work["mails queued"]
    assert known_work["audit entries"] == new_work["audit entries"], (known_work, new_work)


def test_the_order_of_a_known_address_waits_for_its_owner(client, personas, catalogue):
    alice = personas.customer_a
    name_before = alice.name.open()
    visitor = Client()
    checkout(visitor, fill_cart(visitor), email="alice@example.nl", name="Mallory Mol")

    order = Order.objects.get()
    assert order.customer == alice and order.awaiting_owner
    alice.refresh_from_db()
    assert alice.name.open() == name_before  # the visitor's typing is not hers
    [notice] = mail.outbox
    assert notice.to == ["alice@example.nl"]
    confirmation = OutboxMessage.objects.get(template="shop/email/order_confirmation")
    assert confirmation.to_subject == alice.pk

    # The orders desk cannot act on it while it waits.
    with pytest.raises(services.ShopError) as refused:
        services.order_move(order=order, to="awaiting_payment", by=personas.staff["orders"])
    assert refused.value.code == "awaiting_owner"

    # Another customer cannot confirm it; the owner can, once.
    log_in(client, personas.bob)
    url = reverse("shop_portal:order-confirm", kwargs={"order_id": order.pk})
    assert client.post(url).status_code == 404
    client.logout()
    log_in(client, personas.alice)
    page = client.get(reverse("shop_portal:order", kwargs={"order_id": order.pk}))
    assert "zonder in te loggen" in page.content.decode()
    assert client.post(url).status_code == 200
    assert Order.objects.get(pk=order.pk).awaiting_owner is False
    assert AuditEntry.objects.filter(action="shop.order_confirmed_by_owner").count() == 1
    assert Acceptance.objects.filter(order=order).exists()
    assert not Acceptance.objects.filter(order=order, accepted_at__lt=order.created_at).exists()
    services.order_move(order=order, to="awaiting_payment", by=personas.staff["orders"])


def test_reset_does_the_same_work_whatever_the_address(personas):
    def reset(email: str, remote: str):
        visitor = Client(REMOTE_ADDR=remote)
        before = AuditEntry.objects.count()
        with CaptureQueriesContext(connections["keystore"]) as keystore:
            response, work = _work(
                lambda: visitor.post(reverse("accounts:password-reset"), {"email": email})
            )
        work["keystore queries"] = len(keystore)
        # What the audit log got, with the ids (the request, the client's pseudonym)
        # masked: the action, the kind of actor, the keys of the data, a subject or not.
        entries = [
            (
                e.action,
                e.actor.split(":")[0],
                sorted(json.loads(e.payload)["data"]),
                bool(e.subject),
            )
            for e in AuditEntry.objects.order_by("seq")[before:]
        ]
        return _wire(response), _wire(visitor.get(response["Location"])), work, entries

    # A first request creates the keystore's system keys; measured are the next ones.
    reset("warm@example.nl", "198.51.100.9")
    password_reset_requests_handle()
    mail.outbox.clear()
    known = reset("alice@example.nl", "198.51.100.1")
    unknown = reset("nobody@example.nl", "198.51.100.2")
    assert known[0] == unknown[0] and known[1] == unknown[1]
    # The same queries, on both databases, the same audit entries, and no mail yet:
    # the request does not look the address up at all.
    assert known[2] == unknown[2], (known[2], unknown[2])
    assert known[2]["queries"] > 0 and known[2]["mails sent"] == 0
    assert (
        known[3]
        == unknown[3]
        == [("accounts.password_reset_requested", "client", ["request"], True)]
    )
    # The worker then mails each: the link to the stored address, or "no account".
    assert password_reset_requests_handle() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.nl", "nobody@example.nl"]


def test_an_order_its_owner_never_confirms_lapses_after_fourteen_days(personas, catalogue):
    import datetime as dt

    from django.utils import timezone

    visitor = Client()
    checkout(visitor, fill_cart(visitor), email="alice@example.nl")
    order = Order.objects.get()
    now = timezone.now()
    assert services.held_orders_lapse(now=now + dt.timedelta(days=13)) == 0
    assert Order.objects.get(pk=order.pk).status == "received"
    assert services.held_orders_lapse(now=now + dt.timedelta(days=15)) == 1
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert services.held_orders_lapse(now=now + dt.timedelta(days=16)) == 0
