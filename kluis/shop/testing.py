"""Test helpers of the shop: an order and subscriptions for a persona, without checkout."""

from __future__ import annotations

import datetime as dt
import secrets

from kluis.accounts.models import Customer
from kluis.shop import documents
from kluis.shop.cart import Cart
from kluis.shop.catalogue import catalogue_load
from kluis.shop.domains import domain_name_create
from kluis.shop.models import (
    DOMAIN_MARK,
    Acceptance,
    DomainExtension,
    Order,
    OrderLine,
    Product,
    Subscription,
)
from kluis.shop.services import order_place, subscriptions_start


def make_order(
    customer: Customer,
    *,
    status: str = Order.Status.RECEIVED,
    notes: str = "Graag snel leveren.",
    domain: str | None = None,
    language: str = "nl",
) -> Order:
    catalogue_load()
    product = Product.objects.get(code="webwinkel-start")
    order = Order(
        number=f"T{secrets.randbelow(10**9):09d}",
        customer=customer,
        status=status,
        idempotency_key=secrets.token_urlsafe(24),
        language=language,
        total_cents=product.price_cents,
        agreement_version=documents.current_version("agreement"),
        processor_agreement_version=documents.current_version("processor_agreement"),
    )
    if notes:
        order.notes = notes
    order.save(force_insert=True)
    OrderLine.objects.create(
        order=order,
        position=0,
        kind=OrderLine.Kind.PRODUCT,
        product=product,
        description=product.name_nl,
        price_cents=product.price_cents,
        period=product.period,
    )
    if domain:
        extension = DomainExtension.objects.get(tld=domain.split(".", 1)[1])
        OrderLine.objects.create(
            order=order,
            position=1,
            kind=OrderLine.Kind.DOMAIN,
            extension=extension,
            domain_name=domain_name_create(customer=customer, name=domain),
            description=DOMAIN_MARK,
            price_cents=extension.price_cents,
            period=extension.period,
        )
        order.total_cents += extension.price_cents
        order.save(update_fields=["total_cents"])
    for kind in ("agreement", "processor_agreement"):
        doc = documents.current(kind, language)
        Acceptance(
            customer=customer,
            order=order,
            document=kind,
            version=doc.version,
            language=language,
            text_sha256=doc.sha256,
            ip_address="192.0.2.10",
        ).save(force_insert=True)
    return order


def make_subscription(
    customer: Customer,
    *,
    started_on: dt.date | None = None,
    domain: str | None = None,
) -> list[Subscription]:
    """A delivered order's subscriptions, started on `started_on` (default today)."""
    order = make_order(customer, status=Order.Status.DELIVERED, domain=domain)
    return subscriptions_start(order=order, started_on=started_on)


def order_of_cart(cart: Cart, customer: Customer, *, language: str = "nl") -> Order:
    """A checkout of `cart` by an existing customer: accepted, no VAT or KvK details."""
    return order_place(
        cart=cart,
        customer=customer,
        new_customer=None,
        language=language,
        notes="",
        accepted=True,
        non_eu_consent=False,
        vat=None,
        kvk=None,
        client_address="127.0.0.1",
    )
