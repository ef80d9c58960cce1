"""Subscriptions: started by delivery, seen and ended by their customer or staff, and
the end of the last one as the end of the contract."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from kluis.audit.models import AuditEntry
from kluis.formats import long_date
from kluis.policy.schema import Trigger
from kluis.rights import retention
from kluis.rights.erasure import erasure_blockers
from kluis.shop import services
from kluis.shop.models import Order, Period, Subscription, period_after
from kluis.shop.testing import make_order, make_subscription
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date


def _moment(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


@pytest.mark.parametrize(
    ("start", "period", "anchor", "after"),
    [
        (D(2026, 1, 10), Period.MONTH, 10, D(2026, 2, 10)),
        (D(2026, 1, 31), Period.MONTH, 31, D(2026, 2, 28)),
        (D(2026, 2, 28), Period.MONTH, 31, D(2026, 3, 31)),
        (D(2026, 12, 15), Period.MONTH, 15, D(2027, 1, 15)),
        (D(2028, 2, 29), Period.YEAR, 29, D(2029, 2, 28)),
        (D(2029, 2, 28), Period.YEAR, 29, D(2030, 2, 28)),
        (D(2026, 3, 1), Period.YEAR, 1, D(2027, 3, 1)),
    ],
)
def test_periods_keep_to_the_day_of_the_month_they_started_on(start, period, anchor, after):
    assert period_after(start, period, anchor) == after


def test_delivering_an_order_starts_one_subscription_per_line(personas):
    order = make_order(personas.customer_a, domain="voorbeeld.nl")
    staff = personas.staff["orders"]
    for status in ("awaiting_payment", "paid", "in_progress"):
        services.order_move(order=order, to=status, by=staff)
    assert not Subscription.objects.exists()
    services.order_move(order=order, to="delivered", by=staff)
    today = timezone.localdate()
    hosting, domain = Subscription.objects.order_by("line__position")
    assert (hosting.period, hosting.started_on, hosting.period_start) == ("month", today, today)
    assert hosting.period_end == period_after(today, "month", today.day) - dt.timedelta(days=1)
    assert (domain.period, domain.extension.tld) == ("year", "nl")
    assert domain.domain_name_id == order.lines.get(kind="domain").domain_name_id
    assert domain.period_end == period_after(today, "year", today.day) - dt.timedelta(days=1)
    assert {s.customer for s in (hosting, domain)} == {personas.customer_a}
    assert services.subscriptions_start(order=order) == []  # once per line


def test_ending_the_last_subscription_ends_the_contract_after_its_period(personas):
    customer = personas.customer_a
    hosting, domain = make_subscription(customer, started_on=D(2026, 1, 10), domain="a.nl")
    services.subscription_end(subscription=hosting, by=personas.alice)
    customer.refresh_from_db()
    assert customer.contract_ended_at is None  # the domain still renews
    domain = services.subscription_end(subscription=domain, by=personas.staff["orders"])
    assert domain.ends_on == D(2027, 1, 9)
    customer.refresh_from_db()
    assert customer.contract_ended_at == _moment(D(2027, 1, 10))
    # The retention trigger of the customer record reads exactly that moment.
    moments = retention.trigger_moments(Trigger.CONTRACT_END, [customer.id])
    assert moments == {customer.id: _moment(D(2027, 1, 10))}
    ended = AuditEntry.objects.filter(action="shop.subscription_ended")
    assert [e.actor for e in ended] == [
        f"subject:{customer.id}",
        personas.staff["orders"].actor().ref,
    ]
    assert json.loads(ended.last().payload)["data"]["contract_ends"].startswith("2027-01-10")
    with pytest.raises(services.ShopError):
        services.subscription_end(subscription=domain, by=personas.alice)


def test_a_new_delivered_order_reopens_the_contract(personas):
    customer = personas.customer_a
    [old] = make_subscription(customer, started_on=D(2026, 1, 10))
    services.subscription_end(subscription=old, by=personas.alice)
    customer.refresh_from_db()
    assert customer.contract_ended_at is not None
    order = make_order(customer, status=Order.Status.IN_PROGRESS)
    services.order_move(order=order, to="delivered", by=personas.staff["orders"])
    customer.refresh_from_db()
    assert customer.contract_ended_at is None


def test_a_running_subscription_holds_back_erasure_until_its_period_is_over(personas):
    customer = personas.customer_a
    [hosting] = make_subscription(customer)
    keys = lambda: [b.key for b in erasure_blockers(customer.pk)]  # noqa: E731
    assert "shop.running_subscription" in keys()
    services.subscription_end(subscription=hosting, by=personas.alice)
    assert "shop.running_subscription" in keys()  # it runs to the end of the period
    Subscription.objects.filter(pk=hosting.pk).update(
        period_start=D(2020, 1, 1), period_end=D(2020, 1, 31), ends_on=D(2020, 1, 31)
    )
    assert "shop.running_subscription" not in keys()


def test_the_portal_shows_a_customer_only_their_own_subscriptions(client, personas):
    make_subscription(personas.customer_a, domain="alice-winkel.nl")
    make_subscription(personas.customer_b, domain="bob-winkel.nl")
    log_in(client, personas.alice)
    page = client.get(reverse("shop_portal:subscriptions")).content.decode()
    assert "alice-winkel.nl" in page and "bob-winkel.nl" not in page
    assert page.count('<td class="status">wordt verlengd') == 2


def test_the_customer_ends_a_subscription_after_a_clear_confirmation(client, personas):
    [hosting] = make_subscription(personas.customer_a, started_on=timezone.localdate())
    until = long_date(hosting.period_end, "nl")
    url = reverse("shop_portal:subscription-end", kwargs={"subscription_id": hosting.pk})
    log_in(client, personas.alice)
    page = client.get(url).content.decode()
    assert f"De dienst loopt door tot en met {until}" in page
    refused = client.post(url, {})
    assert refused.status_code == 400
    assert "Vink aan dat je begrijpt dat de dienst stopt." in refused.content.decode()
    hosting.refresh_from_db()
    assert hosting.ends_on is None
    response = client.post(url, {"confirm": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("shop_portal:subscriptions")
    page = response.content.decode()
    assert f"de dienst loopt nog tot en met {until}" in page
    assert f"opgezegd, loopt tot en met {until}" in page
    hosting.refresh_from_db()
    assert hosting.ends_on == hosting.period_end
    again = client.post(url, {"confirm": "on"}, follow=True)
    assert "Dit abonnement is al opgezegd." in again.content.decode()


def test_the_confirmation_is_in_english_for_an_english_page(client, personas):
    [hosting] = make_subscription(personas.customer_a)
    log_in(client, personas.alice)
    client.cookies["django_language"] = "en"
    url = reverse("shop_portal:subscription-end", kwargs={"subscription_id": hosting.pk})
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Cancel Webshop Start" in page and "Cancel for good" in page


def test_another_customer_cannot_end_it(client, personas):
    [hosting] = make_subscription(personas.customer_a)
    log_in(client, personas.bob)
    url = reverse("shop_portal:subscription-end", kwargs={"subscription_id": hosting.pk})
    assert client.post(url, {"confirm": "on"}).status_code == 404
    with pytest.raises(services.ShopError):
        services.subscription_end(subscription=hosting, by=personas.bob)
    hosting.refresh_from_db()
    assert hosting.ends_on is None


def test_staff_see_every_subscription_and_end_one(client, personas):
    [hosting] = make_subscription(personas.customer_a, domain="alice-winkel.nl")[:1]
    make_subscription(personas.customer_b, domain="bob-winkel.nl")
    log_in(client, personas.staff["orders"])
    page = client.get(reverse("shop_backoffice:subscriptions")).content.decode()
    # Every subscription, the domain masked: a list is no case of each customer.
    assert "alice-winkel.nl" not in page and "bob-winkel.nl" not in page
    assert page.count("(.nl)") == 2
    url = reverse("shop_backoffice:subscription-end", kwargs={"subscription_id": hosting.pk})
    assert client.post(url, {}).status_code == 400
    assert client.post(url, {"confirm": "on"}).status_code == 302
    hosting.refresh_from_db()
    assert hosting.ends_on == hosting.period_end
    running = client.get(reverse("shop_backoffice:subscriptions"), {"running": "1"})
    listed = running.content.decode()
    assert listed.count('<td class="status">wordt verlengd') == 3
    assert "opgezegd, loopt tot en met" not in listed


def test_staff_find_a_subscription_by_its_exact_domain_and_the_look_up_is_audited(client, personas):
    from kluis.audit.models import AuditEntry

    make_subscription(personas.customer_a, domain="alice-winkel.nl")
    make_subscription(personas.customer_b, domain="bob-winkel.nl")
    log_in(client, personas.staff["orders"])
    url = reverse("shop_backoffice:subscriptions")
    page = client.get(url, {"domein": " Bob-Winkel.NL "}).content.decode()
    assert personas.customer_b.number in page and personas.customer_a.number not in page
    assert "bob-winkel.nl" not in page  # found, still not shown
    entry = AuditEntry.objects.get(action="shop.domain_looked_up")
    assert entry.actor == f"user:{personas.staff['orders'].pk}" and "winkel" not in entry.payload
    assert (
        personas.customer_a.number not in client.get(url, {"domein": "niemand.nl"}).content.decode()
    )
    refused = client.get(url, {"domein": "geen domein"})
    assert refused.status_code == 400
    assert "Vul een domeinnaam met extensie in" in refused.content.decode()
