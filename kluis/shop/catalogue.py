"""The standard catalogue, as data: `manage.py shop_catalogue` loads it (idempotent).

Prices are in euro cents, excluding VAT. Loading again adds what is missing and
leaves what staff changed in the back office alone.
"""

from __future__ import annotations

from django.db import transaction

from kluis.shop.models import DomainExtension, Period, Product

PRODUCTS: list[dict[str, object]] = [
    {
        "code": "webwinkel-start",
        "kind": "webshop",
        "name_nl": "Webwinkel Start",
        "name_en": "Webshop Start",
        "description_nl": "Tot 100 producten, 5 GB opslag.",
        "description_en": "Up to 100 products, 5 GB storage.",
        "price_cents": 1995,
        "period": Period.MONTH,
        "mailboxes": 1,
        "position": 1,
    },
    {
        "code": "webwinkel-plus",
        "kind": "webshop",
        "name_nl": "Webwinkel Plus",
        "name_en": "Webshop Plus",
        "description_nl": "Onbeperkt producten, 25 GB opslag.",
        "description_en": "Unlimited products, 25 GB storage.",
        "price_cents": 3995,
        "period": Period.MONTH,
        "mailboxes": 5,
        "position": 2,
    },
    {
        "code": "website-basis",
        "kind": "website",
        "name_nl": "Website Basis",
        "name_en": "Website Basic",
        "description_nl": "Een website met 2 GB opslag en e-mail.",
        "description_en": "A website with 2 GB storage and email.",
        "price_cents": 7500,
        "period": Period.YEAR,
        "mailboxes": 2,
        "position": 1,
    },
    {
        "code": "website-zakelijk",
        "kind": "website",
        "name_nl": "Website Zakelijk",
        "name_en": "Website Business",
        "description_nl": "10 GB opslag, 10 mailboxen.",
        "description_en": "10 GB storage, 10 mailboxes.",
        "price_cents": 1495,
        "period": Period.MONTH,
        "mailboxes": 10,
        "position": 2,
    },
]

# tld, registry, registry country, EU, yearly price in cents
EXTENSIONS: list[tuple[str, str, str, bool, int]] = [
    ("nl", "SIDN", "NL", True, 995),
    ("eu", "EURid", "BE", True, 1295),
    ("be", "DNS Belgium", "BE", True, 1195),
    ("de", "DENIC", "DE", True, 1095),
    ("com", "Verisign (US)", "US", False, 1495),
    ("net", "Verisign (US)", "US", False, 1695),
    ("org", "PIR (US)", "US", False, 1595),
]
# The registries that register internationalised names (IDN, xn--...) under their TLD.
# SIDN does not for .nl; EURid (.eu), DNS Belgium (.be), DENIC (.de), Verisign
# (.com, .net) and PIR (.org) do.
IDN_TLDS = frozenset({"eu", "be", "de", "com", "net", "org"})


@transaction.atomic
def catalogue_load() -> tuple[int, int]:
    """Add the standard products and extensions that are missing; (products, extensions) added."""
    products = extensions = 0
    for values in PRODUCTS:
        _, made = Product.objects.get_or_create(code=values["code"], defaults=values)
        products += made
    for tld, registry, country, eu, price in EXTENSIONS:
        _, made = DomainExtension.objects.get_or_create(
            tld=tld,
            defaults={
                "registry": registry,
                "registry_country": country,
                "eu": eu,
                "idn": tld in IDN_TLDS,
                "price_cents": price,
                # A transfer pays its first year as a registration does.
                "transfer_price_cents": price,
            },
        )
        extensions += made
    return products, extensions
