"""Dutch consumer law in the checkout, the withdrawal and the end of a subscription.

The rules are in kluis/shop/consumer.py. Alice's order here is placed through the
checkout as a new visitor (a consumer), paid through billing, delivered by the orders
desk; "days ago" is made by moving the order's and subscriptions' dates back.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.accounts.models import User
from kluis.billing import renewals
from kluis.billing import services as billing
from kluis.billing.models import BankStatement, Invoice, Payment, Refund
from kluis.billing.vat import vat_amount
from kluis.formats import long_date
from kluis.mail.delivery import build_email
from kluis.mail.models import OutboxMessage
from kluis.shop import consumer, documents, services
from kluis.shop.models import Acceptance, Order, Product, Subscription
from kluis.shop.testing import make_subscription
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")

_entries = itertools.count(1)


def pay(personas: Personas, invoice: Invoice) -> Payment:
    statement = BankStatement.objects.create(
        version="02", message_id="T", statement_id=f"S{next(_entries)}", sha256="0" * 64
    )
    payment = Payment(
        statement=statement,
        entry_reference=f"E{next(_entries)}",
        booking_date=invoice.issue_date,
        amount_cents=invoice.total_cents,
        match=Payment.Match.NONE,
        iban="NL02ABNA0123456789",
        holder="Eva Visser",
    )
    payment.subject = payment.pk
    payment.save(force_insert=True)
    return billing.payment_link(payment=payment, invoice=invoice, by=personas.staff["finance"])


def place(client, **fields) -> Order:
    assert checkout(client, fill_cart(client), **fields).status_code == 302
    return Order.objects.get()


def deliver(personas: Personas, order: Order) -> Order:
    staff = personas.staff["orders"]
    services.order_move(order=order, to=Order.Status.AWAITING_PAYMENT, by=staff)
    pay(personas, Invoice.objects.get(order=order))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    services.order_move(order=order, to=Order.Status.IN_PROGRESS, by=staff)
    return services.order_move(order=order, to=Order.Status.DELIVERED, by=staff)


def days_ago(order: Order, days: int) -> None:
    """Move the order and its subscriptions `days` back in time."""
    back = dt.timedelta(days=days)
    Order.objects.filter(pk=order.pk).update(created_at=order.created_at - back)
    for s in Subscription.objects.filter(line__order=order):
        Subscription.objects.filter(pk=s.pk).update(
            started_on=s.started_on - back,
            period_start=s.period_start - back,
            period_end=consumer.first_period_end(
                Subscription(started_on=s.started_on - back, period=s.period)
            ),
        )
    order.refresh_from_db()


def eva() -> User:
    user = User.objects.get_by_email("eva@example.nl")
    assert user is not None
    return user


# --- the checkout -------------------------------------------------------------------------


def test_the_checkout_shows_the_legal_button_the_withdrawal_information_and_the_request(
    client, catalogue
):
    fill_cart(client)
    page = client.get(reverse("shop:checkout")).content.decode()
    assert "<button>Bestelling met betalingsverplichting</button>" in page
    assert "Bestelling plaatsen" not in page
    assert documents.current("withdrawal_info", "nl").title in page
    assert 'name="start_now"' in page and "Verzoek om direct te beginnen" in page
    # The consumer-only parts are marked so that a business ordering does not see them.
    assert 'class="withdrawal consumer-only"' in page
    client.post("/i18n/setlang/", {"language": "en"})
    page = client.get(reverse("shop:checkout")).content.decode()
    assert "<button>Order with obligation to pay</button>" in page
    assert "Information on the right of withdrawal" in page


def test_a_logged_in_business_sees_none_of_the_consumer_parts(client, personas, catalogue):
    customer = personas.customer_b
    customer.kind = customer.Kind.ORGANISATION
    customer.save()
    log_in(client, personas.bob)
    fill_cart(client)
    page = client.get(reverse("shop:checkout")).content.decode()
    assert "herroeping" not in page.lower() and 'name="start_now"' not in page
    assert "Bestelling met betalingsverplichting" in page


def test_a_consumers_request_to_start_at_once_is_kept_as_evidence(client, catalogue):
    order = place(client, start_now="on")
    assert order.consumer and order.start_now_requested
    assert order.withdrawal_info_version == documents.current_version("withdrawal_info")
    kept = {a.document: a for a in Acceptance.objects.filter(order=order)}
    request = kept["start_request"]
    assert request.text_sha256 == documents.current("start_request", "nl").sha256
    assert request.ip_address is not None
    assert kept["withdrawal_info"].version == order.withdrawal_info_version


def test_a_business_ordering_as_a_new_customer_gets_no_consumer_rules(client, catalogue):
    order = place(client, kind="organisation", company_name="Visser Webdesign BV", start_now="on")
    assert not order.consumer and not order.start_now_requested
    assert not order.withdrawal_info_version
    assert set(Acceptance.objects.filter(order=order).values_list("document", flat=True)) == {
        "agreement",
        "processor_agreement",
    }
    [confirmation] = OutboxMessage.objects.filter(dedupe_key__endswith="status:received")
    assert [a.filename for a in confirmation.attachments.all()] == [
        f"overeenkomst-{order.number}.pdf",
        f"verwerkersovereenkomst-{order.number}.pdf",
    ]


def test_the_confirmation_carries_the_model_form_and_prices_incl_vat(client, catalogue):
    from kluis.mail.delivery import build_email

    order = place(client)
    [confirmation] = OutboxMessage.objects.filter(dedupe_key__endswith="status:received")
    message = build_email(confirmation)
    name, form, mimetype = message.attachments[-1]
    assert name == f"modelformulier-herroeping-{order.number}.pdf"
    assert mimetype == "application/pdf" and form.startswith(b"%PDF")
    text = message.body
    incl = order.total_cents + vat_amount(order.total_cents, 2100)
    assert f"Totaal (incl. btw): € {incl // 100},{incl % 100:02d}" in text
    deadline = long_date(consumer.withdrawal_deadline(order), "nl")
    assert f"tot en met {deadline} herroepen" in text
    assert "we leveren pas als de herroepingstermijn voorbij is" in text


def test_a_consumer_order_without_the_request_is_not_delivered_within_the_period(
    client, catalogue, personas
):
    order = place(client)
    with pytest.raises(services.ShopError) as refused:
        deliver(personas, order)
    assert refused.value.code == "withdrawal_period"
    order.refresh_from_db()
    assert order.status == Order.Status.IN_PROGRESS


# --- withdrawal ---------------------------------------------------------------------------


def test_withdrawing_within_the_period_credits_the_invoice_pro_rata(client, catalogue, personas):
    order = deliver(personas, place(client, start_now="on"))
    days_ago(order, 5)  # ordered and delivered five days ago; today is the sixth day
    [subscription] = Subscription.objects.filter(line__order=order)
    period_days = (consumer.first_period_end(subscription) - subscription.started_on).days + 1
    log_in(client, eva())
    page = client.get(reverse("shop_portal:order", kwargs={"order_id": order.pk}))
    assert "Bestelling herroepen" in page.content.decode()
    url = reverse("shop_portal:order-withdraw", kwargs={"order_id": order.pk})
    assert "6 van" in client.get(url).content.decode()
    assert client.post(url, {}).status_code == 400  # not confirmed: nothing happens
    assert client.post(url, {"confirm": "on"}).status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.WITHDRAWN and order.withdrawn_at is not None
    invoice = Invoice.objects.get(order=order)
    credit = Invoice.objects.get(corrects=invoice)
    owed = round(1995 * 6 / period_days)
    assert credit.net_cents == -(1995 - owed)
    assert credit.vat_cents == vat_amount(-(1995 - owed), 2100)
    [refund] = Refund.objects.filter(invoice=invoice)
    assert refund.amount_cents == -credit.total_cents
    subscription.refresh_from_db()
    assert subscription.ends_on == timezone.localdate()
    # The acknowledgement on a durable medium (art. 6:230oa lid 4 BW): what was
    # withdrawn, with the date and the time.
    [ack] = OutboxMessage.objects.filter(dedupe_key=f"order:{order.pk}:status:withdrawn")
    body = str(build_email(ack).body)
    at = timezone.localtime(order.withdrawn_at)
    assert f"herroeping ontvangen op {long_date(at, 'nl')} om {at:%H:%M}" in body
    assert order.number in body and "Webwinkel Start" in body
    # Once withdrawn, never again.
    assert client.post(url, {"confirm": "on"}).status_code == 400


def test_an_order_of_before_the_withdrawal_information_is_credited_in_full(
    client, catalogue, personas
):
    """Without the information, the period is 12 months longer and nothing is owed."""
    order = deliver(personas, place(client, start_now="on"))
    Order.objects.filter(pk=order.pk).update(withdrawal_info_version="")
    days_ago(order, 40)
    order.refresh_from_db()
    assert consumer.can_withdraw(order)
    services.order_withdraw(order=order, by=eva())
    invoice = Invoice.objects.get(order=order)
    credit = Invoice.objects.get(corrects=invoice)
    assert credit.total_cents == -invoice.total_cents
    assert sum(r.amount_cents for r in Refund.objects.filter(invoice=invoice)) == (
        invoice.total_cents
    )


def test_withdrawal_after_the_period_is_refused(client, catalogue, personas):
    order = deliver(personas, place(client, start_now="on"))
    days_ago(order, consumer.WITHDRAWAL_DAYS + 1)
    with pytest.raises(services.ShopError) as refused:
        services.order_withdraw(order=order, by=eva())
    assert refused.value.code == "withdrawal_closed"
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()


def test_a_business_order_cannot_be_withdrawn(client, catalogue, personas):
    order = place(client, kind="organisation", company_name="Visser Webdesign BV")
    with pytest.raises(services.ShopError):
        services.order_withdraw(order=order, by=eva())


# --- ending a renewed yearly package ------------------------------------------------------


def _renewed_yearly(personas: Personas, *, consumer_order: bool) -> Subscription:
    Product.objects.filter(code="webwinkel-start").update(period="year")
    today = timezone.localdate()
    started = today - dt.timedelta(days=400)
    [subscription] = make_subscription(personas.customer_a, started_on=started)
    Order.objects.filter(pk=subscription.line.order_id).update(consumer=consumer_order)
    first_end = subscription.period_end
    renewals.renewals_run(today=first_end - dt.timedelta(days=5))
    subscription.refresh_from_db()
    assert subscription.period_start == first_end + dt.timedelta(days=1)
    [invoice] = Invoice.objects.filter(order__isnull=True)
    pay(personas, invoice)
    return subscription


def test_a_renewed_yearly_consumer_package_ends_with_a_months_notice_and_is_credited(
    client, catalogue, personas
):
    subscription = _renewed_yearly(personas, consumer_order=True)
    today = timezone.localdate()
    log_in(client, personas.alice)
    url = reverse("shop_portal:subscription-end", kwargs={"subscription_id": subscription.pk})
    expected = consumer.consumer_end_date(subscription, today)
    assert expected < subscription.period_end
    page = client.get(url).content.decode()
    assert "opzegtermijn van één maand" in page and long_date(expected, "nl") in page
    assert client.post(url, {"confirm": "on"}).status_code == 302
    subscription.refresh_from_db()
    assert subscription.ends_on == expected
    [invoice] = Invoice.objects.filter(order__isnull=True, kind=Invoice.Kind.INVOICE)
    credit = Invoice.objects.get(corrects=invoice)
    renewal = subscription.renewals.get()
    days = (renewal.period_end - renewal.period_start).days + 1
    unused = (renewal.period_end - expected).days
    assert credit.net_cents == -round(renewal.price_cents * unused / days)
    [refund] = Refund.objects.filter(invoice=invoice)
    assert refund.amount_cents == -credit.total_cents


def test_a_renewed_yearly_business_package_runs_to_the_end_of_its_year(personas, catalogue):
    subscription = _renewed_yearly(personas, consumer_order=False)
    period_end = subscription.period_end
    ended = services.subscription_end(subscription=subscription, by=personas.alice)
    assert ended.ends_on == period_end
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()


def test_the_notice_rule_itself():
    sub = Subscription(started_on=dt.date(2025, 1, 7), period="year")
    sub.period_end = dt.date(2026, 1, 6)
    # In the first term, the end of that term.
    assert consumer.consumer_end_date(sub, dt.date(2025, 3, 1)) == dt.date(2026, 1, 6)
    sub.period_end = dt.date(2027, 1, 6)  # renewed
    assert consumer.consumer_end_date(sub, dt.date(2026, 3, 7)) == dt.date(2026, 4, 6)
    assert consumer.consumer_end_date(sub, dt.date(2027, 1, 1)) == dt.date(2027, 1, 6)


def test_the_portal_offers_the_model_form_of_a_consumer_order_only(client, catalogue):
    order = place(client)
    log_in(client, eva())
    url = reverse("shop_portal:order-pdf", kwargs={"order_id": order.pk, "kind": "withdrawal_form"})
    assert (
        url
        in client.get(reverse("shop_portal:order", kwargs={"order_id": order.pk})).content.decode()
    )
    response = client.get(url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    Order.objects.filter(pk=order.pk).update(consumer=False)
    assert client.get(url).status_code == 404
