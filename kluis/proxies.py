"""The address a request comes from, behind the proxies kluis is told to trust.

`REMOTE_ADDR`, unless it is one of `KLUIS_TRUSTED_PROXIES` (a CIDR list; in production
the nginx in front, deploy/nginx-kluis.conf): then the right-most address in
`X-Forwarded-For` that is not itself a trusted proxy. A header from anyone else is
ignored, so a visitor cannot name their own address. Used by every place that keys or
records a client address: sign-in and form rate limits, the audit, the admin allowlist.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TypeAlias

from django.conf import settings
from django.http import HttpRequest

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=4)
def _parsed(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def trusted_proxies() -> tuple[Network, ...]:
    return _parsed(tuple(settings.KLUIS_TRUSTED_PROXIES))


def parse_address(text: str) -> Address | None:
    """An address from `text`, IPv4-mapped IPv6 as its IPv4 address; None if none."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest) -> Address | None:
    """The client's address; None when it cannot be told (a malformed hop after a
    trusted proxy, or no usable `REMOTE_ADDR`)."""
    remote = parse_address(str(request.META.get("REMOTE_ADDR") or ""))
    if remote is None:
        return None
    trusted = trusted_proxies()
    if not any(remote in net for net in trusted):
        return remote
    hops = [h for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return None
        if not any(address in net for net in trusted):
            return address
    return remote
