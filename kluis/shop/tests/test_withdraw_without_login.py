"""Withdrawing without a log-in (art. 6:230oa BW; kluis/shop/withdrawal.py).

The public form answers the same whatever was typed, with the same queries; the worker
mails a link only to the address stored with a matching consumer order; the link's page
withdraws only on its button, counting from the moment the form was sent.
"""

from __future__ import annotations

import re

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kluis.billing.models import Invoice
from kluis.mail.delivery import build_email
from kluis.mail.models import OutboxMessage
from kluis.shop import emails, withdrawal
from kluis.shop.models import Order, WithdrawalRequest
from kluis.shop.tests.test_consumer import days_ago, deliver, place

pytestmark = pytest.mark.django_db(databases="__all__")


def _send(client: Client, number: str, email: str):
    data = {"order_number": number, "email": email, "confirm": "on"}
    with (
        CaptureQueriesContext(connections["default"]) as main,
        CaptureQueriesContext(connections["keystore"]) as keys,
    ):
        response = client.post(reverse("shop:withdraw"), data, REMOTE_ADDR="192.0.2.9")
    return response, (len(main), len(keys))


def test_a_consumer_withdraws_with_order_number_and_address_and_nothing_tells_a_match(
    client, catalogue, personas
):
    order = deliver(personas, place(client, start_now="on"))
    days_ago(order, 5)
    visitor = Client()
    page = visitor.get(reverse("shop:withdraw"))
    assert page.status_code == 200 and 'name="order_number"' in page.content.decode()
    assert visitor.post(reverse("shop:withdraw"), {}).status_code == 400  # clear errors

    _send(visitor, "B0000-000001", "iemand@example.nl")  # the client's address is counted
    sent_at = timezone.now()
    matched, work_matched = _send(visitor, f" {order.number.lower()} ", "Eva@Example.nl")
    unknown, work_unknown = _send(visitor, "B0000-000002", "eva@example.nl")
    other, _work = _send(visitor, order.number, "mallory@example.nl")
    assert matched.status_code == unknown.status_code == other.status_code == 302
    assert matched["Location"] == unknown["Location"] == other["Location"]
    assert work_matched == work_unknown
    answer = visitor.get(matched["Location"]).content.decode()
    assert "Kijk in je mailbox" in answer and order.number not in answer

    handled_at = timezone.now()  # the withdrawal counts from the form, not from here
    assert withdrawal.withdrawal_requests_handle() == 4
    assert not WithdrawalRequest.objects.exists()
    [mail] = OutboxMessage.objects.filter(template=emails.WITHDRAWAL_LINK)
    assert mail.to_subject == order.customer_id
    assert "token" not in str(mail.context)  # the outbox keeps no link that withdraws
    body = str(build_email(mail).body)
    assert order.number in body
    path = re.search(r"https?://[^/\s]+(/winkel/herroepen/afronden/[^\s]+/)", body)
    assert path is not None

    link = path.group(1)
    shown = visitor.get(link)
    assert shown.status_code == 200 and "Herroeping afronden" in shown.content.decode()
    order.refresh_from_db()
    assert order.status != Order.Status.WITHDRAWN  # opening the link changes nothing
    assert visitor.post(link).status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.WITHDRAWN
    assert order.withdrawn_at is not None and sent_at <= order.withdrawn_at < handled_at
    assert Invoice.objects.filter(corrects__order=order).exists()  # credited pro rata
    assert OutboxMessage.objects.filter(template=emails.STATUS, to_subject=order.customer_id)
    assert "is herroepen" in visitor.get(link).content.decode()
    bad = visitor.get(link[:-3] + "xx/")
    assert bad.status_code == 400 and "niet (meer) geldig" in bad.content.decode()

    # Rate limited per order number: the third request for it counts, a fourth not,
    # and the answer stays the same.
    for _ in range(2):
        blocked, _work = _send(Client(), order.number, "eva@example.nl")
        assert blocked["Location"] == matched["Location"]
    assert WithdrawalRequest.objects.count() == 1
