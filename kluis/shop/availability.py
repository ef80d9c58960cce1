"""Whether a domain name can still be registered, asked before it goes into the cart.

The shop does not speak to registries itself: the domains app registers a checker
here when it starts (kluis/domains/shop_link.py). Without one, every name counts as
not checked, and the registration at delivery finds out.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    FREE = "free"
    TAKEN = "taken"
    # The registry will not register it (reserved, a rule of the extension).
    NOT_POSSIBLE = "not_possible"
    # The registry could not be asked just now (unreachable, busy, its own error).
    UNCHECKED = "unchecked"
    # kluis has no connection to this registry (none configured): nothing to ask.
    NOT_ASKED = "not_asked"
    # This visitor asked too often; nothing was asked.
    THROTTLED = "throttled"


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    # The registry's own words where it gave any (NOT_POSSIBLE), for the visitor.
    reason: str = ""
    # THROTTLED: how long the visitor waits.
    seconds: int = 0


# Answers after which the name goes into the cart; registration at delivery decides.
INTO_CART = frozenset({Verdict.FREE, Verdict.UNCHECKED, Verdict.NOT_ASKED})

# (domain as A-labels, the visitor's address) -> the answer
Checker = Callable[[str, str], Answer]

_checker: list[Checker] = []


def register_checker(checker: Checker) -> None:
    _checker[:] = [checker]


def domain_check(domain: str, client_address: str) -> Answer:
    if not _checker:
        return Answer(Verdict.NOT_ASKED)
    return _checker[0](domain, client_address)


# A taken name the customer holds elsewhere can be transferred to us with the auth code
# of its current registrar. The domains app registers how a code is checked (the
# registry's format) and kept (sealed with the order line) when it starts.
class TransferRefused(ValueError):
    """The code does not fit; the message is for the customer."""


@dataclass(frozen=True)
class TransferDesk:
    # (domain, code) -> the code as the registry takes it; TransferRefused when it does not fit
    clean: Callable[[str, str], str]
    # (order line id, code): seal the code with the line, in the checkout's transaction
    keep: Callable[[int, str], None]


_transfers: list[TransferDesk] = []


def register_transfers(desk: TransferDesk) -> None:
    _transfers[:] = [desk]


def transfers() -> TransferDesk | None:
    """None while no domains app takes transfers: then a taken name stays taken."""
    return _transfers[0] if _transfers else None
