"""The Dutch betalingskenmerk (payment reference) with its check digit.

Specification of the Betaalvereniging: 16 digits are a check digit C followed by 15
digits. Weights 2, 4, 8, 5, 10, 9, 7, 3, 6, 1 run from the rightmost digit and repeat;
C = 11 - (A mod 11) where A is the weighted sum, with 10 written as 1 and 11 as 0.
"""

from __future__ import annotations

import secrets

WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6, 1)
# The weights are 2**1, 2**2, … modulo 11 (2**10 is 1 modulo 11, hence the repeat),
# and 13 is 2 modulo 11: the weighted sum A is 2 * int(body, 13) modulo 11, one call
# in C. _CHECK maps A mod 11 to C.
_CHECK = tuple({10: 1, 11: 0}.get(11 - a, 11 - a) for a in range(11))


def check_digit(body: str) -> int:
    # isascii and isdigit leave only 0-9: int() would also take signs, spaces, "_".
    if not body.isascii() or not body.isdigit():
        raise ValueError("a betalingskenmerk has digits only")
    return _CHECK[2 * int(body, 13) % 11]


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
