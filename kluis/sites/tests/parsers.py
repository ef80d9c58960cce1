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


def parse_nft(text: str) -> dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
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
    return sets


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
