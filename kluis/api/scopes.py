"""The scopes a token may carry, and who may hold each.

Only scopes with endpoints behind them are listed: a token's scope is a promise of
what it can do, never of what it might one day do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

Holder = Literal["customer", "staff", "service"]


@dataclass(frozen=True)
class Scope:
    key: str
    label: Promise
    holders: frozenset[Holder]


_CUSTOMER: frozenset[Holder] = frozenset({"customer"})
_STAFF: frozenset[Holder] = frozenset({"staff"})
_SERVICE: frozenset[Holder] = frozenset({"service"})

SCOPES: dict[str, Scope] = {
    s.key: s
    for s in (
        Scope("account:read", _("al je gegevens lezen, zoals op Mijn gegevens"), _CUSTOMER),
        Scope("account:write", _("je gegevens corrigeren"), _CUSTOMER),
        Scope(
            "privacy:requests",
            _("een verzoek om inzage, overdracht, beperking of bezwaar doen"),
            _CUSTOMER,
        ),
        Scope("privacy:erasure", _("je account en gegevens laten wissen"), _CUSTOMER),
        Scope("invoices:read", _("facturen en betalingen lezen, PDF en betaallink"), _CUSTOMER),
        Scope("orders:read", _("bestellingen lezen"), _CUSTOMER),
        Scope(
            "orders:write",
            _("pakketten en domeinnamen bestellen, met aanvaarding van de voorwaarden"),
            _CUSTOMER,
        ),
        Scope(
            "domains:read",
            _("je domeinnamen lezen, met status, verloopdatum en naamservers"),
            _CUSTOMER,
        ),
        Scope(
            "domains:write",
            _(
                "beschikbaarheid van domeinnamen controleren, naamservers wijzigen en een "
                "verhuiscode laten mailen"
            ),
            _CUSTOMER,
        ),
        Scope(
            "sites:read", _("sites, hun toegangslijsten en de toegang van support lezen"), _CUSTOMER
        ),
        Scope(
            "sites:allowlist",
            _("adressen op de toegangslijst zetten en weghalen, toegang van support beëindigen"),
            _CUSTOMER,
        ),
        Scope("help:requests", _("je hulpvragen lezen en een nieuwe stellen"), _CUSTOMER),
        Scope("finance:read", _("financieel overzicht en openstaande facturen lezen"), _STAFF),
        Scope(
            "orders:desk",
            _("bestellingen lezen en naar een volgende status zetten (rol orders)"),
            _STAFF,
        ),
        Scope(
            "customers:reveal",
            _("een verzegeld gegeven van een klant openen, met doel en dossier"),
            _STAFF,
        ),
        Scope(
            "firewall:read", _("de toegangslijsten van alle sites ophalen (hostingnodes)"), _SERVICE
        ),
        Scope("logs:write", _("webserver- en maillogs aanleveren (hostingnodes)"), _SERVICE),
    )
}


def scopes_for(holder: Holder) -> list[Scope]:
    return [s for s in SCOPES.values() if holder in s.holders]
