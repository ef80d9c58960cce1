"""Addresses for the admin allowlist: what may go on it, and the visitor's own address.

Python's `ipaddress` parses; kluis adds the limits: a range no wider than /24 (IPv4)
or /48 (IPv6), no zone id, no host bits below the prefix, and only addresses that are
reachable on the internet (no private, loopback, link-local, multicast or reserved
space), unless `KLUIS_ALLOWLIST_LOCAL` is set for a demo on one machine.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kluis.proxies import Address as Address
from kluis.proxies import Network as Network
from kluis.proxies import client_ip

WIDEST = {4: 24, 6: 48}
MAX_ENTRIES_PER_SITE = 50
MAX_TEXT = 60  # the longest IPv6 range written out in full is 43 characters


def parse_network(text: str) -> Network:
    """The network `text` names, or a ValidationError saying in words what is wrong."""
    value = text.strip()
    if not value:
        raise ValidationError(_("Vul een IP-adres of reeks in."), code="empty")
    if len(value) > MAX_TEXT:
        raise ValidationError(_("Dit is geen IP-adres of reeks."), code="invalid")
    if "%" in value:
        raise ValidationError(
            _(
                "Een IPv6-adres met een zone (het deel na het procentteken, zoals eth0) "
                "geldt alleen binnen je eigen netwerk. Vul het adres zonder zone in."
            ),
            code="zone",
        )
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValidationError(
            _(
                "Dit is geen IPv4- of IPv6-adres of reeks "
                "(bijvoorbeeld 203.0.113.7 of 2001:db8::/48)."
            ),
            code="invalid",
        ) from None
    if network.version == 6 and isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            raise ValidationError(
                _("Vul een IPv4-adres in als IPv4 (%(address)s)."),
                code="mapped",
                params={"address": str(mapped)},
            )
    widest = WIDEST[network.version]
    if network.prefixlen < widest:
        raise ValidationError(
            _(
                "Deze reeks is te groot: een reeks mag hoogstens /%(widest)d zijn "
                "bij IPv%(version)d."
            ),
            code="too_wide",
            params={"widest": widest, "version": network.version},
        )
    if "/" in value and ipaddress.ip_address(value.split("/")[0]) != network.network_address:
        raise ValidationError(
            _("Een reeks begint bij haar eerste adres: bedoel je %(network)s?"),
            code="host_bits",
            params={"network": str(network)},
        )
    if not _allowed_space(network):
        raise ValidationError(
            _(
                "Dit adres is niet bereikbaar vanaf internet (een privé-, lokaal of "
                "gereserveerd adres). Vul het adres in waarmee je op internet zit."
            ),
            code="not_global",
        )
    return network


def _allowed_space(network: Network) -> bool:
    if getattr(settings, "KLUIS_ALLOWLIST_LOCAL", False):
        return not network.is_multicast and not network.is_unspecified
    return network.is_global and not network.is_multicast


def canonical(network: Network) -> str:
    """The text kept and exported: one address bare, a range with its prefix."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


# --- the visitor's own address ----------------------------------------------------------


def visitor_address(request: HttpRequest) -> Address | None:
    """The address the visitor reaches us from (kluis/proxies.py)."""
    return client_ip(request)
