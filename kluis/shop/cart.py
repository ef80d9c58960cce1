"""The cart, kept in the session (the functional session cookie, R43).

The session holds only codes: product codes, and domain names sealed (AES-GCM under a
key of the keystore, bound to the cart's token), so the session store links no visitor
to a domain in plain text. Prices, names and totals are looked up in the catalogue each
time, on the server; a price, a quantity or an option a browser sends is never read.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.contrib.sessions.backends.base import SessionBase

from kluis.shop.models import DomainExtension, Period, Product
from kluis.shop.pricing import with_prices_of_day
from kluis.vault.keys import system_secret

SESSION_KEY = "kluis_cart"
MAX_ITEMS = 20


@dataclass(frozen=True)
class CartLine:
    kind: str  # "product" or "domain"
    product: Product | None
    extension: DomainExtension | None
    domain: str
    price_cents: int
    period: str
    # A taken name to be transferred to us: the auth code of its current registrar
    # (sealed with the name in the session; here only while the cart is in use).
    auth_code: str = field(default="", repr=False)
    # What each later period costs, when it differs from the first (a transfer).
    renewal_cents: int | None = None

    @property
    def is_transfer(self) -> bool:
        return bool(self.auth_code)

    @property
    def recurring_cents(self) -> int:
        return self.price_cents if self.renewal_cents is None else self.renewal_cents

    def description(self, language: str) -> str:
        if self.product is not None:
            return self.product.name(language)
        return self.domain

    @property
    def period_label(self) -> str:
        return str(Period(self.period).label)


@dataclass(frozen=True)
class Cart:
    token: str
    lines: list[CartLine]

    @property
    def total_cents(self) -> int:
        """Due now: the first period of every line, monthly and yearly alike."""
        return sum(line.price_cents for line in self.lines)

    @property
    def per_month_cents(self) -> int:
        """What recurs each month after the first period."""
        return sum(line.recurring_cents for line in self.lines if line.period == Period.MONTH)

    @property
    def per_year_cents(self) -> int:
        """What recurs each year after the first period."""
        return sum(line.recurring_cents for line in self.lines if line.period == Period.YEAR)

    @property
    def domains(self) -> list[CartLine]:
        return [line for line in self.lines if line.kind == "domain"]

    @property
    def non_eu_domains(self) -> list[CartLine]:
        return [line for line in self.domains if line.extension and not line.extension.eu]

    @property
    def is_empty(self) -> bool:
        return not self.lines


def _raw(session: SessionBase) -> dict[str, Any]:
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, dict) or not isinstance(raw.get("token"), str):
        raw = {"token": secrets.token_urlsafe(24), "products": [], "domains": []}
    return raw


def _cipher() -> AESGCM:
    return AESGCM(system_secret("cart"))


def seal_domain(token: str, domain: str) -> str:
    """`domain` as the session keeps it: sealed, and bound to this cart."""
    nonce = os.urandom(12)
    sealed = nonce + _cipher().encrypt(nonce, domain.encode(), f"cart|{token}".encode())
    return base64.b64encode(sealed).decode()


def open_domain(token: str, sealed: object) -> str | None:
    """The domain of a sealed session entry; None for one that does not open here."""
    if not isinstance(sealed, str):
        return None
    try:
        raw = base64.b64decode(sealed, validate=True)
        plain = _cipher().decrypt(raw[:12], raw[12:], f"cart|{token}".encode())
    except (binascii.Error, ValueError, InvalidTag):
        return None
    return plain.decode()


def _entries(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(domain, auth code or "") of each domain entry; a transfer seals both together."""
    opened = (open_domain(raw["token"], d) for d in raw["domains"])
    return [(d.partition("\n")[0], d.partition("\n")[2]) for d in opened if d is not None]


def _domains(raw: dict[str, Any]) -> list[str]:
    return [domain for domain, _code in _entries(raw)]


def cart_get(session: SessionBase) -> Cart:
    raw = _raw(session)
    products = {p.code: p for p in Product.objects.filter(code__in=raw["products"], active=True)}
    entries = _entries(raw) if raw["domains"] else []
    tlds = {d.split(".", 1)[1] for d, _code in entries if "." in d}
    extensions = {e.tld: e for e in DomainExtension.objects.filter(tld__in=tlds, active=True)}
    # The price of today: a scheduled change counts from its day (kluis/shop/pricing.py).
    items: list[Product | DomainExtension] = [*products.values(), *extensions.values()]
    with_prices_of_day(items)
    lines = []
    for code in raw["products"]:
        if code in products:
            p = products[code]
            lines.append(CartLine("product", p, None, "", p.price_cents, p.period))
    for domain, code in entries:
        extension = extensions.get(domain.split(".", 1)[1]) if "." in domain else None
        if extension is not None:
            # A transfer pays the extension's transfer price for its first period.
            lines.append(
                CartLine(
                    "domain",
                    None,
                    extension,
                    domain,
                    extension.transfer_price_cents if code else extension.price_cents,
                    extension.period,
                    auth_code=code,
                    renewal_cents=extension.price_cents if code else None,
                )
            )
    return Cart(raw["token"], lines)


def _save(session: SessionBase, raw: dict[str, Any]) -> None:
    session[SESSION_KEY] = raw
    session.modified = True


def cart_add_product(session: SessionBase, code: str) -> bool:
    raw = _raw(session)
    if not Product.objects.filter(code=code, active=True).exists():
        return False
    if code not in raw["products"] and len(raw["products"]) + len(raw["domains"]) < MAX_ITEMS:
        raw["products"].append(code)
    _save(session, raw)
    return True


def cart_add_domain(session: SessionBase, domain: str, *, auth_code: str = "") -> None:
    """`domain` is validated by the form (label + an active extension); with the
    `auth_code` of its current registrar it is a transfer to us (code checked)."""
    raw = _raw(session)
    if domain not in _domains(raw) and len(raw["products"]) + len(raw["domains"]) < MAX_ITEMS:
        entry = f"{domain}\n{auth_code}" if auth_code else domain
        raw["domains"].append(seal_domain(raw["token"], entry))
    _save(session, raw)


def cart_remove(session: SessionBase, item: str) -> None:
    raw = _raw(session)
    raw["products"] = [c for c in raw["products"] if c != item]
    raw["domains"] = [
        d for d in raw["domains"] if (open_domain(raw["token"], d) or "").partition("\n")[0] != item
    ]
    _save(session, raw)


def cart_clear(session: SessionBase) -> None:
    session.pop(SESSION_KEY, None)
