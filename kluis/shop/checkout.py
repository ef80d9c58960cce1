"""What the checkout does besides placing the order, for the shop's page and for an
order by script (the REST API) alike: the cart of a list of codes and names, the
availability of those names, and the order's input from the checkout form's data.

A script's cart is built as the session's cart is read (kluis/shop/cart.py): active
products and extensions only, priced on the server with the prices of the day; a name
goes in only when its registry said it is free or could not be asked (the shop's
`availability.INTO_CART`), after the same per-address limit as the catalogue.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from kluis.accounts.models import Customer
from kluis.policy.enforce import Actor
from kluis.shop import availability, forms, services
from kluis.shop.cart import MAX_ITEMS, Cart, CartLine
from kluis.shop.models import DomainExtension, Product
from kluis.shop.pricing import with_prices_of_day
from kluis.shop.vies import vies_check

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,40}")


@dataclass(frozen=True)
class ItemRefused:
    """One product code or name that cannot be ordered, and why (Dutch or English)."""

    field: str  # "products" or "domains"
    item: str
    message: str


class ItemsRefused(services.ShopError):
    def __init__(self, refused: list[ItemRefused]) -> None:
        super().__init__("items")
        self.refused = refused


def script_cart_token(token_id: object, key: str | None) -> str:
    """The order's idempotency key for an order by script: one per API token and
    Idempotency-Key, so a retry can never place a second order; random without one."""
    if key is None:
        return secrets.token_urlsafe(24)
    return hashlib.sha256(f"api|{token_id}|{key}".encode()).hexdigest()


def cart_for(
    *, token: str, products: list[str], domains: list[str], empty_ok: bool = False
) -> Cart:
    """The cart of product codes and full domain names (`voorbeeld.nl`), or ItemsRefused
    naming every code or name that is unknown, not sold, malformed or twice."""
    refused: list[ItemRefused] = []
    if not products and not domains and not empty_ok:
        refused.append(ItemRefused("products", "", str(_("Je winkelmandje is leeg."))))
    if len(products) + len(domains) > MAX_ITEMS:
        refused.append(
            ItemRefused(
                "products",
                "",
                _("Hoogstens %(n)d pakketten en namen per bestelling.") % {"n": MAX_ITEMS},
            )
        )
    slugs = [c for c in products if SLUG.fullmatch(c)]  # a code is a slug, never more
    found = {p.code: p for p in Product.objects.filter(code__in=slugs, active=True)}
    names: list[tuple[str, str]] = []  # (the name as the registry gets it, as asked)
    for field, values in (("products", products), ("domains", domains)):
        if len(set(values)) != len(values):
            refused.append(ItemRefused(field, "", _("Een pakket of naam staat er twee keer in.")))
    for code in products:
        if code not in found:
            refused.append(ItemRefused("products", code, _("Dit pakket bestaat niet (meer).")))
    for asked in domains:
        label, _dot, tld = asked.strip().partition(".")
        form = forms.AddDomainForm({"label": label, "tld": tld.lower()})
        if not form.is_valid():
            message = " ".join(str(m) for errors in form.errors.values() for m in errors)
            refused.append(ItemRefused("domains", asked, message))
        else:
            names.append((form.domain, asked))
    if len({n for n, _asked in names}) != len(names):
        refused.append(ItemRefused("domains", "", _("Een pakket of naam staat er twee keer in.")))
    if refused:
        raise ItemsRefused(refused)
    extensions = {
        e.tld: e
        for e in DomainExtension.objects.filter(
            tld__in={n.split(".", 1)[1] for n, _asked in names}, active=True
        )
    }
    priced: list[Product | DomainExtension] = [*found.values(), *extensions.values()]
    with_prices_of_day(priced)
    lines = [
        CartLine("product", found[c], None, "", found[c].price_cents, found[c].period)
        for c in products
    ]
    for name, _asked in names:
        extension = extensions[name.split(".", 1)[1]]
        lines.append(
            CartLine("domain", None, extension, name, extension.price_cents, extension.period)
        )
    return Cart(token, lines)


def names_refused(cart: Cart, client_address: str) -> list[ItemRefused]:
    """The cart's names that the shop would not have put in a cart: taken, not possible,
    or past the per-address limit of checks (its registry is asked as in the shop)."""
    refused = []
    for line in cart.domains:
        answer = availability.domain_check(line.domain, client_address)
        if answer.verdict in availability.INTO_CART:
            continue
        shown = {"domain": forms.domain_shown(line.domain)}
        if answer.verdict == availability.Verdict.THROTTLED:
            message = _(
                "Je hebt in korte tijd veel namen laten controleren; probeer het over %(s)d "
                "seconden."
            ) % {"s": answer.seconds}
        elif answer.verdict == availability.Verdict.TAKEN:
            message = _("%(domain)s is al geregistreerd.") % shown
        elif answer.reason:
            message = _(
                "%(domain)s kan niet worden geregistreerd. De registry zegt: %(reason)s"
            ) % {
                **shown,
                "reason": answer.reason,
            }
        else:
            message = _("%(domain)s kan niet worden geregistreerd.") % shown
        refused.append(ItemRefused("domains", forms.domain_shown(line.domain), message))
    return refused


def order_input(
    *,
    cart: Cart,
    customer: Customer | None,
    data: dict[str, Any],
    language: str,
    client_address: str,
) -> dict[str, Any]:
    """`services.order_place`'s arguments from the checkout form's cleaned data.

    A VAT number typed now is checked in VIES; one on file of an EU business outside
    the Netherlands is checked again for this order, not asked again.
    """
    new_customer = None
    country = customer.country if customer else str(data["country"])
    if customer is None:
        new_customer = services.NewCustomer(
            kind=str(data["kind"]),
            name=str(data["name"]),
            company_name=str(data["company_name"]),
            street=str(data["street"]),
            postcode=str(data["postcode"]),
            city=str(data["city"]),
            country=country,
            email=str(data["email"]),
            phone=str(data["phone"]),
        )
    vat = None
    vat_number = str(data.get("vat_number") or "")
    if vat_number:
        prefix = forms.VAT_PREFIX.get(country, country)
        vat = services.VatInput(prefix, vat_number, vies_check(country=prefix, number=vat_number))
    elif (
        customer is not None
        and customer.vat_number is not None
        and customer.kind == Customer.Kind.ORGANISATION
        and customer.country in forms.EU_COUNTRIES
        and customer.country != "NL"
    ):
        on_file = customer.vat_number.reveal(
            purpose="contract_administration", actor=Actor.subject(customer.id)
        )
        vat = services.VatInput(
            on_file[:2], on_file[2:], vies_check(country=on_file[:2], number=on_file[2:])
        )
    kvk = None
    if data.get("kvk_number") or data.get("kvk_extract") or data.get("legal_form"):
        kvk = services.KvkInput(
            str(data.get("kvk_number") or ""),
            data.get("kvk_extract"),
            str(data.get("legal_form") or ""),
        )
    return {
        "cart": cart,
        "customer": customer,
        "new_customer": new_customer,
        "language": language,
        "notes": str(data.get("notes") or ""),
        "accepted": bool(data.get("accept")),
        "non_eu_consent": bool(data.get("non_eu_consent")),
        "vat": vat,
        "kvk": kvk,
        "client_address": client_address,
        "start_now": bool(data.get("start_now")),
    }
