"""Prices incl. btw for consumers and excl. btw for businesses, with a switch; the cart
says what is due now and what recurs per month and per year, never one sum of both."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kluis.accounts.models import Customer
from kluis.shop.models import DomainExtension, Product
from kluis.shop.tests.helpers import fill_cart
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def _page(client, name: str) -> str:
    return client.get(reverse(name)).content.decode()


def _row(page: str, css: str) -> str:
    match = re.search(rf'<tr class="{css}">(.*?)</tr>', page, re.S)
    assert match is not None, css
    return match.group(1)


def test_a_visitor_sees_consumer_prices_incl_btw_everywhere_in_the_shop(client, catalogue):
    start = Product.objects.get(code="webwinkel-start")
    assert start.price_cents == 1995
    page = _page(client, "shop:catalogue")
    assert "€ 24,14" in page and "€ 19,95" not in page  # 19,95 + 4,19 btw
    assert "incl. btw" in page
    fill_cart(client)
    for name in ("shop:cart", "shop:checkout"):
        page = _page(client, name)
        assert "€ 24,14" in page and "€ 19,95" not in page, name
        assert "Nu te betalen (incl. btw)" in page


def test_the_switch_shows_business_prices_excl_btw_and_back(client, catalogue):
    fill_cart(client)
    response = client.post(reverse("shop:prices"), {"show": "excl", "next": "/winkel/mandje/"})
    assert response.status_code == 302 and response["Location"] == "/winkel/mandje/"
    for name in ("shop:catalogue", "shop:cart", "shop:checkout"):
        page = _page(client, name)
        assert "€ 19,95" in page and "€ 24,14" not in page, name
        assert "excl. btw" in page
    client.post(reverse("shop:prices"), {"show": "incl"})
    assert "€ 24,14" in _page(client, "shop:cart")


def test_the_switch_sends_nobody_to_another_site(client, catalogue):
    response = client.post(
        reverse("shop:prices"), {"show": "excl", "next": "https://elders.example/"}
    )
    assert response["Location"] == reverse("shop:catalogue")
    client.post(reverse("shop:prices"), {"show": "<script>"})
    assert "€ 19,95" in _page(client, "shop:catalogue")  # the earlier choice stays


def test_a_logged_in_business_sees_excl_and_a_consumer_incl(client, personas, catalogue):
    Customer.objects.filter(pk=personas.customer_b.pk).update(kind=Customer.Kind.ORGANISATION)
    log_in(client, personas.bob)
    assert "€ 19,95" in _page(client, "shop:catalogue")
    client.logout()
    log_in(client, personas.alice)
    assert "€ 24,14" in _page(client, "shop:catalogue")


def test_the_cart_shows_due_now_and_what_recurs_per_month_and_per_year(client, catalogue):
    DomainExtension.objects.filter(tld="nl").update(price_cents=1000)
    fill_cart(client, products=("webwinkel-start",), domains=("jansen.nl",))
    client.post(reverse("shop:prices"), {"show": "excl"})
    page = _page(client, "shop:cart")
    assert "€ 29,95" in _row(page, "due-now")  # both first periods are due now
    assert "€ 19,95" in _row(page, "per-month")
    assert "€ 10,00" in _row(page, "per-year")
    client.post(reverse("shop:prices"), {"show": "incl"})
    page = _page(client, "shop:cart")
    assert "€ 36,24" in _row(page, "due-now")  # 29,95 + 6,29 btw
    assert "€ 24,14" in _row(page, "per-month")
    assert "€ 12,10" in _row(page, "per-year")
    # Never one recurring sum of a monthly and a yearly price.
    assert "per maand" in _row(page, "per-month") and "per jaar" in _row(page, "per-year")


def test_a_cart_of_monthly_packages_shows_no_yearly_line(client, catalogue):
    fill_cart(client)
    page = _page(client, "shop:cart")
    assert 'class="per-month"' in page and 'class="per-year"' not in page


def test_the_portal_shows_the_order_as_the_customer_is_shown_prices(client, personas, catalogue):
    from kluis.billing.tests.helpers import order_for

    order = order_for(personas.customer_a)
    log_in(client, personas.alice)
    page = client.get(reverse("shop_portal:order", args=[order.pk])).content.decode()
    assert "incl. btw" in page
    client.post(reverse("shop:prices"), {"show": "excl"})
    page = client.get(reverse("shop_portal:order", args=[order.pk])).content.decode()
    assert "excl. btw" in page


def test_the_english_shop_says_incl_vat(client, catalogue):
    client.post(reverse("set_language"), {"language": "en", "next": "/winkel/"})
    page = _page(client, "shop:catalogue")
    assert "incl. VAT" in page and "Show prices" in page


def test_a_page_of_prices_reads_the_vat_rate_once(client, catalogue):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def rate_queries(name: str) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as seen:
            page = _page(client, name)
        return sum("billing_vatrate" in q["sql"] for q in seen.captured_queries), page

    count, page = rate_queries("shop:catalogue")
    assert page.count("€ ") > 3 and "incl. btw" in page  # many prices, shown incl.
    assert count == 1
    fill_cart(client)
    for name in ("shop:cart", "shop:checkout"):
        count, page = rate_queries(name)
        assert count == 1 and "€ 24,14" in page, name
    # Business prices need no rate at all.
    client.post(reverse("shop:prices"), {"show": "excl"})
    assert rate_queries("shop:catalogue")[0] == 0
