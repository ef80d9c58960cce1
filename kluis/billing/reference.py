"""The Dutch betalingskenmerk (payment reference) with its check digit.

Specification of the Betaalvereniging: 16 digits are a check digit C followed by 15
digits. Weights 2, 4, 8, 5, 10, 9, 7, 3, 6, 1 run from the rightmost digit and repeat;
C = 11 - (A mod 11) where A is the weighted sum, with 10 written as 1 and 11 as 0.
"""

from __future__ import annotations

import operator
import secrets

WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6, 1)
# The weights of a 15-digit body from its leftmost digit (a statement import checks
# tens of thousands, so the common case is a single map in C).
_BODY_WEIGHTS = tuple(WEIGHTS[i % len(WEIGHTS)] for i in range(15))[::-1]


def check_digit(body: str) -> int:
    if not body.isascii() or not body.isdigit():
        raise ValueError("a betalingskenmerk has digits only")
    if len(body) == len(_BODY_WEIGHTS):
        total: int = sum(map(operator.mul, map(int, body), _BODY_WEIGHTS))
    else:
        total = sum(int(d) * WEIGHTS[i % len(WEIGHTS)] for i, d in enumerate(reversed(body)))
    c = 11 - total % 11
    return {10: 1, 11: 0}.get(c, c)


def with_check_digit(body: str) -> str:
    if len(body) != 15:
        raise ValueError("the body of a 16-digit betalingskenmerk has 15 digits")
    return f"{check_digit(body)}{body}"


def is_valid(reference: str) -> bool:
    """A 16-digit betalingskenmerk whose check digit is right."""
    reference = "".join(reference.split())
    if len(reference) != 16 or not reference.isascii() or not reference.isdigit():
        return False
    return check_digit(reference[1:]) == int(reference[0])


def new_reference() -> str:
    return with_check_digit(f"{secrets.randbelow(10**15):015d}")
