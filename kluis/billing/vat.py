"""Which VAT an invoice carries (LEGAL.md section 6; R4, R17).

- A customer in the Netherlands pays Dutch VAT.
- An EU business outside the Netherlands whose VAT number VIES validated: reverse
  charge ("btw verlegd"), with the VIES answer kept as evidence. An invalid or
  unchecked number makes the customer a consumer.
- An EU consumer outside the Netherlands pays their own country's rate once we are
  above the OSS threshold (a setting), Dutch VAT below it.
- Outside the EU: no Dutch VAT (place of supply is the customer's country).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from kluis.billing.models import Invoice, VatRate
from kluis.countries import EU_COUNTRIES
from kluis.shop.models import VatCheck


class VatError(Exception):
    """No rate is known for a country on a date: the rate table needs a row."""


@dataclass(frozen=True)
class VatDecision:
    scheme: str
    country: str
    rate_bp: int
    evidence: VatCheck | None = None


def rate_on(country: str, day: dt.date) -> int:
    rate = (
        VatRate.objects.filter(country=country, valid_from__lte=day)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day))
        .order_by("-valid_from")
        .first()
    )
    if rate is None:
        raise VatError(f"no VAT rate for {country} on {day}")
    return rate.rate_bp


def vat_amount(net_cents: int, rate_bp: int) -> int:
    """VAT on a net amount, rounded half away from zero to the cent."""
    sign = -1 if net_cents < 0 else 1
    return sign * ((abs(net_cents) * rate_bp + 5000) // 10000)


def vat_decide(*, country: str, evidence: VatCheck | None, day: dt.date) -> VatDecision:
    if country == "NL":
        return VatDecision(Invoice.VatScheme.DUTCH, "NL", rate_on("NL", day))
    if country not in EU_COUNTRIES:
        return VatDecision(Invoice.VatScheme.OUTSIDE_EU, country, 0)
    if (
        evidence is not None
        and evidence.result == VatCheck.Result.VALID
        and evidence.country == country
    ):
        return VatDecision(Invoice.VatScheme.REVERSE_CHARGE, country, 0, evidence)
    if settings.KLUIS_OSS_ABOVE_THRESHOLD:
        return VatDecision(Invoice.VatScheme.OSS, country, rate_on(country, day))
    return VatDecision(Invoice.VatScheme.DUTCH, "NL", rate_on("NL", day))


def consumer_vat_for(country: str) -> Callable[[int], int]:
    """The VAT a consumer of `country` pays on a net price today, for showing prices:
    the rate is looked up once, here, and the function returned applies it.

    As vat_decide decides it for a consumer (no VIES evidence); a country without a
    rate in the table shows no VAT rather than a wrong one.
    """
    from django.utils import timezone

    try:
        rate_bp = vat_decide(country=country, evidence=None, day=timezone.localdate()).rate_bp
    except VatError:
        rate_bp = 0
    return functools.partial(_vat_at, rate_bp)


def _vat_at(rate_bp: int, net_cents: int) -> int:
    return vat_amount(net_cents, rate_bp)
