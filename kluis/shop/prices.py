"""Prices as a visitor sees them: including btw for consumers, excluding it for businesses.

Dutch and EU law want the price shown to a consumer to include VAT (Price Indication
Directive 98/6/EC; art. 6:230m BW for distance contracts); a business may be shown
prices without VAT when that is said. Catalogue prices are stored without VAT.

A logged-in customer sees what fits their kind (a person incl., an organisation
excl.); a visitor sees incl. until they switch. The switch is kept in the session.

The shop does not decide VAT: billing registers the function that gives the VAT on
a net amount for a country (kluis/billing/apps.py), the way it registers its move
handler; a page asks it once, so its prices cost one rate lookup together. Without
it (a shop alone), prices are shown without VAT and say so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kluis.accounts.models import Customer, User

SESSION_KEY = "kluis_prices"
INCL = "incl"
EXCL = "excl"

# The buyer's country -> the VAT on a net amount in cents, at today's rate. Called once
# per PriceDisplay (a page), so a page of many prices looks the rate up once.
VatFor = Callable[[str], Callable[[int], int]]
_vat_for: list[VatFor] = []


def register_vat_for(function: VatFor) -> VatFor:
    _vat_for[:] = [function]
    return function


@dataclass(frozen=True)
class PriceDisplay:
    incl_vat: bool
    country: str
    # True when the visitor chose; False when it follows the customer's kind.
    chosen: bool = False

    @functools.cached_property
    def _vat(self) -> Callable[[int], int] | None:
        """The VAT on a net amount for this country: the rate is read the first time a
        price is shown and kept for the rest of the page."""
        if not self.incl_vat or not _vat_for:
            return None
        return _vat_for[0](self.country)

    def amount(self, net_cents: int) -> int:
        """What to show for a net amount: with the VAT on it, or as it is."""
        vat = self._vat
        return net_cents if vat is None else net_cents + vat(net_cents)

    @property
    def label(self) -> str:
        return _("incl. btw") if self.incl_vat and _vat_for else _("excl. btw")


def _customer(request: HttpRequest) -> Customer | None:
    user = getattr(request, "user", None)
    if isinstance(user, User) and not user.is_staff_member and user.customer is not None:
        return user.customer
    return None


def price_display(request: HttpRequest) -> PriceDisplay:
    customer = _customer(request)
    country = customer.country if customer is not None else "NL"
    choice = request.session.get(SESSION_KEY)
    if choice in (INCL, EXCL):
        return PriceDisplay(choice == INCL, country, chosen=True)
    if customer is not None:
        return PriceDisplay(customer.kind != Customer.Kind.ORGANISATION, country)
    return PriceDisplay(True, country)


def price_display_choose(session: SessionBase, choice: str) -> None:
    if choice in (INCL, EXCL):
        session[SESSION_KEY] = choice
