"""Orders: the state machine, one mail per status change, back office and portal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kluis.billing.models import Invoice
from kluis.mail.models import OutboxMessage
from kluis.shop import services
from kluis.shop.testing import make_order
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

HAPPY_PATH = ["awaiting_payment", "paid", "in_progress", "delivered"]


def test_an_order_walks_its_states_and_each_change_queues_exactly_one_mail(personas):
    order = make_order(personas.customer_a)
    staff = personas.staff["orders"]
    for status in HAPPY_PATH:
        order = services.order_move(order=order, to=status, by=staff)
        assert order.status == status
    # "Awaiting payment" is told by the order's invoice mail, the other moves by a
    # status mail: one mail per change, never a status mail beside the invoice.
    invoice = Invoice.objects.get(order=order)
    mails = sorted(OutboxMessage.objects.values_list("dedupe_key", "template"))
    assert mails == sorted(
        [(f"invoice:{invoice.pk}", "billing/email/invoice")]
        + [
            (f"order:{order.pk}:status:{s}", "shop/email/order_status")
            for s in HAPPY_PATH
            if s != "awaiting_payment"
        ]
    )


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("received", "paid"),
        ("received", "delivered"),
        ("awaiting_payment", "in_progress"),
        ("delivered", "cancelled"),
        ("cancelled", "received"),
        ("paid", "received"),
        ("received", "received"),
    ],
)
def test_illegal_moves_are_refused_and_mail_nothing(personas, start, to):
    order = make_order(personas.customer_a, status=start)
    with pytest.raises(services.ShopError):
        services.order_move(order=order, to=to, by=personas.staff["orders"])
    order.refresh_from_db()
    assert order.status == start
    assert not OutboxMessage.objects.exists()


def test_any_open_order_can_be_cancelled(personas):
    for start in ["received", "awaiting_payment", "paid", "in_progress"]:
        order = make_order(personas.customer_a, status=start)
        assert (
            services.order_move(order=order, to="cancelled", by=personas.staff["orders"]).status
            == "cancelled"
        )


def test_staff_move_an_order_in_the_back_office_and_an_illegal_move_is_a_clear_error(
    client, personas
):
    order = make_order(personas.customer_a)
    log_in(client, personas.staff["orders"])
    url = reverse("shop_backoffice:order-move", kwargs={"order_id": order.pk})
    assert client.post(url, {"status": "paid"}).status_code == 400
    assert client.post(url, {"status": "awaiting_payment"}).status_code == 302
    order.refresh_from_db()
    assert order.status == "awaiting_payment"
    assert OutboxMessage.objects.count() == 1


def test_free_text_is_shown_literally_in_the_back_office(client, personas):
    notes = '{{ settings.SECRET_KEY }} {% debug %} =HYPERLINK("http://x") +1 -1 @SUM(A1) <b>vet</b>'
    order = make_order(personas.customer_a, notes=notes)
    log_in(client, personas.staff["orders"])
    page = client.get(
        reverse("shop_backoffice:order", kwargs={"order_id": order.pk})
    ).content.decode()
    assert (
        "{{ settings.SECRET_KEY }} {% debug %} =HYPERLINK(&quot;http://x&quot;) +1 -1 @SUM(A1)"
        in page
    )
    assert "&lt;b&gt;vet&lt;/b&gt;" in page and "<b>vet</b>" not in page


def test_the_customer_follows_their_orders_in_the_portal(client, personas):
    order = make_order(personas.customer_a, notes="{{ 7*7 }}")
    services.order_move(order=order, to="awaiting_payment", by=personas.staff["orders"])
    log_in(client, personas.alice)
    listing = client.get(reverse("shop_portal:orders")).content.decode()
    assert order.number in listing and "wacht op betaling" in listing
    page = client.get(reverse("shop_portal:order", kwargs={"order_id": order.pk})).content.decode()
    assert "{{ 7*7 }}" in page
    pdf = client.get(
        reverse("shop_portal:order-pdf", kwargs={"order_id": order.pk, "kind": "agreement"})
    )
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_another_customer_sees_no_trace_of_the_order(client, personas):
    order = make_order(personas.customer_a)
    log_in(client, personas.bob)
    assert order.number not in client.get(reverse("shop_portal:orders")).content.decode()
    assert (
        client.get(
            reverse(
                "shop_portal:order-pdf",
                kwargs={"order_id": order.pk, "kind": "processor_agreement"},
            )
        ).status_code
        == 404
    )
