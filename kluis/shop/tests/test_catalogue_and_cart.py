"""The catalogue, the cart in the session, and prices that only the server sets."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from kluis.shop.models import DomainExtension, Order, Product
from kluis.shop.tests.helpers import checkout, fill_cart
from kluis.testing import log_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_catalogue_names_each_extension_its_registry_and_whether_it_is_in_the_eu(catalogue):
    found = {e.tld: (e.registry, e.eu) for e in DomainExtension.objects.all()}
    assert found == {
        "nl": ("SIDN", True),
        "eu": ("EURid", True),
        "be": ("DNS Belgium", True),
        "de": ("DENIC", True),
        "com": ("Verisign (US)", False),
        "net": ("Verisign (US)", False),
        "org": ("PIR (US)", False),
    }
    assert Product.objects.filter(kind="webshop").count() == 2
    assert Product.objects.filter(kind="website").count() == 2


def test_loading_the_catalogue_again_keeps_what_staff_changed(catalogue, capsys):
    Product.objects.filter(code="webwinkel-start").update(price_cents=2500)
    call_command("shop_catalogue")
    assert "0 packages and 0 extensions added" in capsys.readouterr().out
    assert Product.objects.get(code="webwinkel-start").price_cents == 2500


def test_the_catalogue_page_shows_prices_and_registries(client, catalogue):
    page = client.get(reverse("shop:catalogue")).content.decode()
    # A visitor is shown consumer prices: 19,95 + 21 % btw.
    assert "Webwinkel Start" in page and "€ 24,14" in page
    assert "Verisign (US)" in page and "PIR (US)" in page


def test_the_cart_lives_in_the_session_cookie_only(client, catalogue):
    fill_cart(client, domains=("jansen.nl",))
    assert set(client.cookies) <= {"kluis_session", "csrftoken"}
    page = client.get(reverse("shop:cart")).content.decode()
    assert "Webwinkel Start" in page and "jansen.nl" in page
    assert "€ 36,18" in page  # (19,95 + 9,95) + 21 % btw, due now


def test_a_tampered_price_quantity_or_option_in_a_request_has_no_effect(client, catalogue):
    client.post(
        reverse("shop:cart-add"),
        {"product": "webwinkel-start", "price_cents": "1", "quantity": "100", "period": "year"},
    )
    token = fill_cart(client, products=())
    response = checkout(
        client,
        token,
        price_cents="1",
        total_cents="1",
        quantity="100",
        period="year",
        vat_status="valid",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    assert order.total_cents == 1995
    assert order.vat_status == Order.Vat.NOT_ASKED
    [line] = order.lines.all()
    assert (line.price_cents, line.period) == (1995, "month")


def test_an_unknown_or_inactive_product_cannot_be_put_in_the_cart(client, catalogue):
    Product.objects.filter(code="website-basis").update(active=False)
    client.post(reverse("shop:cart-add"), {"product": "website-basis"})
    client.post(reverse("shop:cart-add"), {"product": "bestaat-niet"})
    response = client.post(reverse("shop:cart-add-domain"), {"label": "-fout-", "tld": "nl"})
    assert response.status_code == 302
    client.post(reverse("shop:cart-add-domain"), {"label": "goed", "tld": "xyz"})
    assert "Je winkelmandje is leeg." in client.get(reverse("shop:cart")).content.decode()


def test_a_price_change_by_staff_applies_to_the_next_cart_view(client, personas, catalogue):
    fill_cart(client)
    staff = client.__class__()
    log_in(staff, personas.staff["orders"])
    product = Product.objects.get(code="webwinkel-start")
    response = staff.post(
        reverse("shop_backoffice:product-price", kwargs={"product_id": product.pk}),
        {"new_price": "21.95", "effective_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    assert "€ 26,56" in client.get(reverse("shop:cart")).content.decode()  # 21,95 incl. btw


def test_staff_add_a_package_and_change_an_extension(client, personas, catalogue):
    log_in(client, personas.staff["admin"])
    response = client.post(
        reverse("shop_backoffice:catalogue"),
        {
            "code": "webwinkel-pro",
            "kind": "webshop",
            "name_nl": "Webwinkel Pro",
            "name_en": "Webshop Pro",
            "price_cents": "9900",
            "period": "month",
            "active": "on",
            "position": "3",
        },
    )
    assert response.status_code == 302
    assert Product.objects.filter(code="webwinkel-pro").exists()
    nl = DomainExtension.objects.get(tld="nl")
    response = client.post(
        reverse("shop_backoffice:extension-price", kwargs={"extension_id": nl.pk}),
        {"new_price": "-5", "effective_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 400
    # The edit form changes no price: that is a price change, with its notices.
    response = client.post(
        reverse("shop_backoffice:extension", kwargs={"extension_id": nl.pk}),
        {"price_cents": "5", "period": "year", "active": "on", "transfer_price": "9.95"},
    )
    assert response.status_code == 302
    nl.refresh_from_db()
    assert nl.price_cents == 995
