"""A new price: announced a month ahead, invoiced only after, escapable without costs.

The rules are in kluis/shop/pricing.py (agreement 2.0, art. 4). Webwinkel Start costs
€ 19,95 a month in the catalogue; the subscriptions here started on 5 January 2027.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.accounts.models import Customer
from kluis.billing import renewals
from kluis.billing.models import Invoice
from kluis.mail.delivery import build_email
from kluis.mail.models import OutboxMessage
from kluis.shop import pricing, services
from kluis.shop.models import (
    DomainExtension,
    Order,
    PriceChange,
    PriceNotice,
    Product,
    Subscription,
    SubscriptionRenewal,
)
from kluis.shop.testing import make_subscription
from kluis.testing import Personas, log_in

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date
NOTICE = "shop/email/price_notice"


def subscribed(customer: Customer, *, started: dt.date, consumer: bool = False) -> Subscription:
    [subscription] = make_subscription(customer, started_on=started)
    ordered = timezone.make_aware(dt.datetime.combine(started - dt.timedelta(days=1), dt.time(12)))
    Order.objects.filter(pk=subscription.line.order_id).update(
        created_at=ordered, consumer=consumer
    )
    subscription.refresh_from_db()
    return subscription


def product() -> Product:
    return Product.objects.get(code="webwinkel-start")


def renewal_price(subscription: Subscription, start: dt.date) -> int:
    return SubscriptionRenewal.objects.get(
        subscription=subscription, period_start=start
    ).price_cents


def test_a_renewal_before_the_new_price_applies_pays_the_old_one_and_after_it_the_new(
    personas: Personas,
) -> None:
    alice = subscribed(personas.customer_a, started=D(2027, 1, 5))
    done = pricing.price_change_schedule(
        item=product(),
        new_price_cents=2495,
        effective_on=D(2027, 3, 1),
        by=personas.staff["orders"],
        today=D(2027, 1, 10),
    )
    assert done.notified == 1
    [notice] = PriceNotice.objects.all()
    assert (notice.notified_on, notice.applies_from) == (D(2027, 1, 10), D(2027, 3, 5))
    assert (notice.old_price_cents, notice.new_price_cents) == (1995, 2495)

    renewals.renewals_run(today=D(2027, 1, 25))  # the period from 5 February
    renewals.renewals_run(today=D(2027, 2, 25))  # the period from 5 March
    assert renewal_price(alice, D(2027, 2, 5)) == 1995
    assert renewal_price(alice, D(2027, 3, 5)) == 2495
    # New customers: the old price up to the effective day, the new one from it.
    assert pricing.catalogue_price_cents(product(), D(2027, 2, 28)) == 1995
    assert pricing.catalogue_price_cents(product(), D(2027, 3, 1)) == 2495
    # Ordered after it took effect: the order's price is the new one, nobody is told.
    pricing.price_notices_send(today=D(2027, 3, 2))
    dave = subscribed(personas.customer_b, started=D(2027, 3, 3))
    assert dave.line.price_cents == 2495
    assert pricing.price_notices_send(today=D(2027, 3, 3)) == 0
    renewals.renewals_run(today=D(2027, 3, 25))
    assert renewal_price(dave, D(2027, 4, 3)) == 2495


def test_a_rise_waits_a_month_after_the_mail_even_when_it_took_effect_for_new_customers(
    personas: Personas,
) -> None:
    alice = subscribed(personas.customer_a, started=D(2027, 1, 5))
    pricing.price_change_schedule(
        item=product(),
        new_price_cents=2495,
        effective_on=D(2027, 3, 1),
        by=personas.staff["orders"],
        today=D(2027, 2, 20),
    )
    assert PriceNotice.objects.get().applies_from == D(2027, 4, 5)  # 20 March + the next period
    for day in (D(2027, 1, 25), D(2027, 2, 25), D(2027, 3, 25)):
        renewals.renewals_run(today=day)
    assert renewal_price(alice, D(2027, 3, 5)) == 1995
    assert renewal_price(alice, D(2027, 4, 5)) == 2495


def test_no_mail_means_no_rise(personas: Personas) -> None:
    personas.customer_b.email = None
    personas.customer_b.save(update_fields=["email", "email_index"])
    bob = subscribed(personas.customer_b, started=D(2027, 1, 5))
    assert pricing.affected_subscriptions(product()) == 0  # the back office says so
    done = pricing.price_change_schedule(
        item=product(),
        new_price_cents=2495,
        effective_on=D(2027, 2, 1),
        by=personas.staff["orders"],
        today=D(2027, 1, 2),
    )
    assert done.notified == 0 and not OutboxMessage.objects.filter(template=NOTICE).exists()
    for day in (D(2027, 1, 25), D(2027, 2, 25), D(2027, 3, 25)):
        renewals.renewals_run(today=day)
    assert {r.price_cents for r in bob.renewals.all()} == {1995}


def test_a_rise_recorded_but_never_announced_does_not_reach_the_invoice(
    personas: Personas,
) -> None:
    alice = subscribed(personas.customer_a, started=D(2027, 1, 5))
    PriceChange.objects.create(
        product=product(),
        old_price_cents=1995,
        new_price_cents=2495,
        effective_on=D(2027, 2, 1),
        scheduled_by=personas.staff["orders"],
    )
    renewals.renewals_run(today=D(2027, 2, 25))
    assert {r.price_cents for r in alice.renewals.all()} == {1995}


def test_each_subscriber_gets_one_mail_however_often_the_job_runs(personas: Personas) -> None:
    subscribed(personas.customer_a, started=D(2027, 1, 5))
    subscribed(personas.customer_b, started=D(2027, 1, 6), consumer=True)
    done = pricing.price_change_schedule(
        item=product(),
        new_price_cents=2495,
        effective_on=D(2027, 3, 1),
        by=personas.staff["orders"],
        today=D(2027, 1, 10),
    )
    assert done.notified == 2
    assert pricing.price_notices_send(today=D(2027, 1, 10)) == 0
    assert pricing.price_notices_send(today=D(2027, 1, 11)) == 0
    mails = OutboxMessage.objects.filter(template=NOTICE)
    assert sorted(m.to_subject for m in mails) == sorted(
        [personas.customer_a.id, personas.customer_b.id]
    )
    # A subscription delivered later, of an order placed before the new price, is told
    # by the next run, once; its month runs from that mail.
    carol = subscribed(personas.customer_a, started=D(2027, 2, 10))
    assert pricing.price_notices_send(today=D(2027, 2, 10)) == 1
    assert pricing.price_notices_send(today=D(2027, 2, 11)) == 0
    assert PriceNotice.objects.get(subscription=carol).applies_from == D(2027, 3, 10)

    consumer_mail = build_email(mails.get(to_subject=personas.customer_b.id))
    text = str(consumer_mail.body)
    # € 19,95 and € 24,95 with 21 % btw, the day, and how to end it before.
    assert "€ 24,14" in text and "€ 30,19" in text and "inclusief btw" in text
    assert "6 maart 2027" in text and "5 maart 2027" in text
    assert "/portaal/winkel/abonnementen/" in text and "zonder kosten" in text
    first = mails.filter(to_subject=personas.customer_a.id).order_by("pk").first()
    assert first is not None
    business = str(build_email(first).body)
    assert "€ 19,95" in business and "€ 24,95" in business and "(exclusief btw)" in business


def test_a_decrease_applies_from_the_next_period_without_a_months_notice(
    personas: Personas,
) -> None:
    alice = subscribed(personas.customer_a, started=D(2027, 1, 5))
    today = D(2027, 1, 10)
    done = pricing.price_change_schedule(
        item=product(),
        new_price_cents=1495,
        effective_on=today,
        by=personas.staff["orders"],
        today=today,
    )
    assert Product.objects.get(code="webwinkel-start").price_cents == 1495  # in the shop now
    assert done.notified == 1  # told, though nothing waits for it
    assert PriceNotice.objects.get().applies_from == D(2027, 2, 5)
    renewals.renewals_run(today=D(2027, 1, 25))
    assert renewal_price(alice, D(2027, 2, 5)) == 1495
    mail = build_email(OutboxMessage.objects.get(template=NOTICE))
    assert "Lagere prijs" in str(mail.subject) and "zonder kosten" not in str(mail.body)


def test_a_subscriber_told_of_a_rise_ends_before_it_applies_and_its_invoiced_period_is_credited(
    personas: Personas,
) -> None:
    today = timezone.localdate()
    alice = subscribed(personas.customer_a, started=today - dt.timedelta(days=20))
    pricing.price_change_schedule(
        item=product(),
        new_price_cents=2495,
        effective_on=today + dt.timedelta(days=1),
        by=personas.staff["orders"],
        today=today,
    )
    applies_from = PriceNotice.objects.get().applies_from
    # Invoiced ahead: the first period at the new price is already on an invoice.
    renewals.renewals_run(today=applies_from - dt.timedelta(days=10))
    assert renewal_price(alice, applies_from) == 2495
    alice.refresh_from_db()
    assert alice.period_start == applies_from
    ended = services.subscription_end(subscription=alice, by=personas.alice)
    # A business would run to the end of what was invoiced; before a rise it need not.
    assert ended.ends_on == applies_from - dt.timedelta(days=1)
    renewal = SubscriptionRenewal.objects.get(subscription=alice, period_start=applies_from)
    invoice = Invoice.objects.get(number=renewal.invoice_number)
    [credit] = invoice.credit_notes.all()
    assert credit.net_cents == -2495


def test_staff_schedule_a_price_change_and_see_who_is_told(
    client, personas: Personas, catalogue
) -> None:
    subscribed(personas.customer_a, started=timezone.localdate() - dt.timedelta(days=3))
    log_in(client, personas.staff["orders"])
    item = product()
    page_url = reverse("shop_backoffice:product", kwargs={"product_id": item.pk})
    url = reverse("shop_backoffice:product-price", kwargs={"product_id": item.pk})
    page = client.get(page_url).content.decode()
    assert "1 lopend abonnement krijgt bericht" in page
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    refused = client.post(url, {"new_price": "24.95", "effective_on": yesterday.isoformat()})
    assert refused.status_code == 400
    assert "al voorbij" in refused.content.decode()
    assert (
        client.post(url, {"new_price": "100000", "effective_on": "2099-01-01"}).status_code == 400
    )
    later = timezone.localdate() + dt.timedelta(days=40)
    response = client.post(url, {"new_price": "24.95", "effective_on": later.isoformat()})
    assert response.status_code == 302
    change = PriceChange.objects.get()
    assert (change.old_price_cents, change.new_price_cents, change.effective_on) == (
        1995,
        2495,
        later,
    )
    assert change.scheduled_by == personas.staff["orders"]
    page = client.get(page_url).content.decode()
    assert "1 abonnee heeft nu een e-mail gekregen" in page
    # Only the catalogue's roles schedule a price.
    log_in(client, personas.staff["finance"])
    response = client.post(url, {"new_price": "29.95", "effective_on": "2099-01-01"})
    assert response.status_code in (302, 403)
    assert PriceChange.objects.count() == 1


def test_an_english_subscriber_is_told_in_english(personas: Personas) -> None:
    personas.customer_a.language = "en"
    personas.customer_a.save(update_fields=["language"])
    subscribed(personas.customer_a, started=D(2027, 1, 5))
    pricing.price_change_schedule(
        item=product(),
        new_price_cents=2495,
        effective_on=D(2027, 3, 1),
        by=personas.staff["orders"],
        today=D(2027, 1, 10),
    )
    mail = build_email(OutboxMessage.objects.get(template=NOTICE))
    assert str(mail.subject) == "New price for Webshop Start from 5 March 2027"
    body = str(mail.body)
    assert "you pay €24.95 per month instead of €19.95 (excluding VAT)" in body
    assert "without costs" in body


def test_a_domain_extension_changes_price_the_same_way(personas: Personas) -> None:
    package, domain = make_subscription(
        personas.customer_a, started_on=D(2027, 1, 5), domain="voorbeeld.nl"
    )
    Order.objects.filter(pk=domain.line.order_id).update(
        created_at=timezone.make_aware(dt.datetime(2027, 1, 4, 12))
    )
    Subscription.objects.filter(pk=package.pk).update(ends_on=package.period_end)
    nl = DomainExtension.objects.get(tld="nl")
    done = pricing.price_change_schedule(
        item=nl,
        new_price_cents=1250,
        effective_on=D(2027, 6, 1),
        by=personas.staff["admin"],
        today=D(2027, 5, 1),
    )
    assert done.notified == 1
    assert PriceNotice.objects.get(subscription=domain).applies_from == D(2028, 1, 5)
    renewals.renewals_run(today=D(2027, 12, 25))
    domain.refresh_from_db()
    assert renewal_price(domain, D(2028, 1, 5)) == 1250
