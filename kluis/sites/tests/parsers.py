"""Strict readers of the firewall files, for machines without nft or nginx.

They accept exactly the grammar kluis writes and nothing else, and give back what a
firewall would load: per set, the networks (checked by `ipaddress`). A line they do
not understand fails the test that reads the file.
"""

from __future__ import annotations

import ipaddress
import re

SET_OPEN = re.compile(r"^\tset site_(\d+)_v([46]) \{$")
ELEMENTS = re.compile(r"^\t\telements = \{ ([0-9a-f:.,/ ]+) \}$")


class ParseError(AssertionError):
    pass


CHAIN_HEAD = ["\tchain admin_ports {", "\t\ttype filter hook input priority filter; policy accept;"]
RULE = re.compile(
    r"^\t\ttcp dport (\d+) "
    r"(?:(ip) saddr @site_(\d+)_v4 accept|(ip6) saddr @site_(\d+)_v6 accept|(drop))$"
)


def parse_nft(text: str) -> dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    return parse_nft_ruleset(text)[0]


def parse_nft_ports(text: str) -> dict[int, list[int]]:
    """Port -> the sites whose sets it accepts (in order), for each port the chain drops."""
    return parse_nft_ruleset(text)[1]


def _parse_chain(lines: list[str], sets: dict[str, object]) -> dict[int, list[int]]:
    """The chain of admin ports: per port, each site's v4 and v6 accept, then one drop;
    every set it names exists, every port ascending and once, 1-65535 and not 80/443."""
    if lines[:2] != CHAIN_HEAD or lines[-1] != "\t}":
        raise ParseError(f"unexpected chain frame: {lines[:2]!r} … {lines[-1]!r}")
    ports: dict[int, list[int]] = {}
    open_port: int | None = None
    rules = lines[2:-1]
    i = 0
    while i < len(rules):
        rule = RULE.match(rules[i])
        if not rule:
            raise ParseError(f"not a rule: {rules[i]!r}")
        port = int(rule.group(1))
        if not 1 <= port <= 65535 or port in (80, 443):
            raise ParseError(f"port {port} in the chain")
        if rule.group(6):  # drop: closes the port's group
            if open_port != port:
                raise ParseError(f"a drop of port {port} without its accepts")
            open_port = None
            i += 1
            continue
        if rule.group(2) is None:
            raise ParseError(f"an IPv6 accept without its IPv4 one: {rules[i]!r}")
        site = int(rule.group(3))
        v6 = RULE.match(rules[i + 1]) if i + 1 < len(rules) else None
        if not v6 or v6.group(4) is None or int(v6.group(1)) != port or int(v6.group(5)) != site:
            raise ParseError(f"site {site} on port {port}: no IPv6 accept after the IPv4 one")
        for family in (4, 6):
            if f"site_{site}_v{family}" not in sets:
                raise ParseError(f"the chain names site_{site}_v{family}, which is no set")
        if open_port is None:
            if port in ports or (ports and port < max(ports)):
                raise ParseError(f"port {port} twice or out of order")
            ports[port] = []
            open_port = port
        elif open_port != port:
            raise ParseError(f"port {open_port} has no drop before port {port}")
        ports[port].append(site)
        i += 2
    if open_port is not None or not ports:
        raise ParseError("the chain does not end with a drop, or holds no port")
    return ports


def parse_nft_ruleset(
    text: str,
) -> tuple[dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]], dict[int, list[int]]]:
    lines = text.split("\n")
    if lines[-1] != "":
        raise ParseError("the file does not end with a newline")
    lines = lines[:-1]
    head = [
        "table inet kluis_admin",
        "delete table inet kluis_admin",
        "",
        "table inet kluis_admin {",
    ]
    if not lines[0].startswith("# ") or lines[1:5] != head or lines[-1] != "}":
        raise ParseError(f"unexpected frame: {lines[:5]!r} … {lines[-1]!r}")
    sets: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    body = lines[5:-1]
    ports: dict[int, list[int]] = {}
    if CHAIN_HEAD[0] in body:  # the chain comes after every set
        at = body.index(CHAIN_HEAD[0])
        body, chain = body[:at], body[at:]
    else:
        chain = []
    i = 0
    while i < len(body):
        opened = SET_OPEN.match(body[i])
        if not opened:
            raise ParseError(f"line {i}: {body[i]!r}")
        site, family = opened.group(1), int(opened.group(2))
        name = f"site_{site}_v{family}"
        if name in sets:
            raise ParseError(f"set {name} twice")
        kind = "ipv4_addr" if family == 4 else "ipv6_addr"
        if body[i + 1] != f"\t\ttype {kind}" or body[i + 2] != "\t\tflags interval":
            raise ParseError(f"set {name}: bad type or flags")
        i += 3
        members: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        found = ELEMENTS.match(body[i])
        if found:
            for item in found.group(1).split(", "):
                network = ipaddress.ip_network(item)  # strict: no host bits
                if network.version != family:
                    raise ParseError(f"{item} in the IPv{family} set {name}")
                members.append(network)
            i += 1
        if body[i] != "\t}":
            raise ParseError(f"set {name} not closed: {body[i]!r}")
        i += 1
        for a in members:
            for b in members:
                if a is not b and a.overlaps(b):
                    raise ParseError(f"{a} overlaps {b} in {name} (nft refuses that)")
        sets[name] = members
    if chain:
        ports = _parse_chain(chain, dict(sets))
    return sets, ports


def parse_nginx(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    lines = text.split("\n")
    if lines[-1] != "" or not lines[0].startswith("# "):
        raise ParseError("no header or no final newline")
    lines = lines[1:-1]
    if not lines or lines[-1] != "deny all;":
        raise ParseError("the include does not end with deny all;")
    allowed = []
    for line in lines[:-1]:
        match = re.fullmatch(r"allow ([0-9a-f:.]+(?:/\d+)?);", line)
        if not match:
            raise ParseError(f"not an allow line: {line!r}")
        allowed.append(ipaddress.ip_network(match.group(1)))
    return allowed
