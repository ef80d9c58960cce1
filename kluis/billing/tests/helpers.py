"""Shared steps of the billing tests: an order of a customer in a given country."""

from __future__ import annotations

from kluis.accounts.models import Customer
from kluis.shop.models import Order, VatCheck
from kluis.shop.testing import make_order


def order_for(
    customer: Customer,
    *,
    country: str = "NL",
    vies: str | None = None,
    vat_number: str = "BE0403019261",
    kind: str = Customer.Kind.PERSON,
    language: str = "nl",
) -> Order:
    customer.country = country
    customer.kind = kind
    customer.address_street = "Lindengracht 12"
    customer.address_postcode = "1015 KK"
    customer.address_city = "Amsterdam"
    fields = ["country", "kind", "address_street", "address_postcode", "address_city"]
    if kind == Customer.Kind.ORGANISATION:
        customer.company_name = "Voorbeeld BV"
        fields.append("company_name")
    if vies is not None:
        customer.vat_number = vat_number
        fields += ["vat_number", "vat_index"]
    customer.save(update_fields=fields)
    order = make_order(customer, domain="voorbeeld.nl", language=language)
    if vies is not None:
        VatCheck(
            order=order,
            vat_number=vat_number,
            country=vat_number[:2],
            result=vies,
            request_identifier="WAPIAAAAW1234567",
        ).save(force_insert=True)
        order.vat_status = {"valid": "valid", "invalid": "invalid"}.get(vies, "pending")
        order.save(update_fields=["vat_status"])
    return order
