"""Shared steps of the shop tests: filling a cart and posting the checkout form."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from kluis.shop.cart import SESSION_KEY

NEW_VISITOR = {
    "kind": "person",
    "name": "Eva Visser",
    "company_name": "",
    "street": "Lindengracht 12",
    "postcode": "1015 KK",
    "city": "Amsterdam",
    "country": "NL",
    "email": "eva@example.nl",
    "phone": "020 123 4567",
    "notes": "",
    "accept": "on",
}


def fill_cart(
    client: Client,
    *,
    products: tuple[str, ...] = ("webwinkel-start",),
    domains: tuple[str, ...] = (),
) -> str:
    for code in products:
        assert client.post(reverse("shop:cart-add"), {"product": code}).status_code == 302
    for domain in domains:
        label, tld = domain.split(".", 1)
        assert (
            client.post(reverse("shop:cart-add-domain"), {"label": label, "tld": tld}).status_code
            == 302
        )
    return str(client.session[SESSION_KEY]["token"])


def checkout(client: Client, token: str, **fields: Any):
    data = {**NEW_VISITOR, "token": token, **fields}
    return client.post(reverse("shop:checkout"), {k: v for k, v in data.items() if v is not None})
