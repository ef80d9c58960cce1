"""A HyperLogLog sketch of a day's distinct visitors: 4,096 one-byte registers.

Each visitor hash (64 bits) sets one register to the larger of its value and the
rank of the hash's first 1-bit after the 12 index bits. Sketches of the same day merge
by the maximum of each register, so chunks, files and nodes combine without ever
listing a visitor. Standard error 1.04/sqrt(4096), about 1.6 %; small counts use
linear counting and are nearly exact.
"""

from __future__ import annotations

import math

P = 12
M = 1 << P
_REST = 64 - P
_MASK = (1 << _REST) - 1
_ALPHA = 0.7213 / (1 + 1.079 / M)


def new() -> bytearray:
    return bytearray(M)


def add(registers: bytearray, value: int) -> None:
    index = value >> _REST
    rank = _REST - (value & _MASK).bit_length() + 1
    if rank > registers[index]:
        registers[index] = rank


# Merging compares all registers at once as lanes of one big integer: a register is
# at most 53 (< 128), so (a | 0x80) - b never borrows from the next lane, and its top
# bit says whether a >= b.
_HIGH = int.from_bytes(b"\x80" * M, "big")
_LANES = int.from_bytes(b"\xff" * M, "big")


def merge(a: bytes | bytearray, b: bytes | bytearray) -> bytearray:
    """The maximum of each register (what `bytearray(map(max, a, b))` gives)."""
    if len(a) != M or len(b) != M:
        return bytearray(map(max, a, b))
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    x_wins = (((x | _HIGH) - y) & _HIGH) >> 7  # 1 in each lane where a >= b
    x_wins *= 0xFF
    return bytearray(((x & x_wins) | (y & (_LANES ^ x_wins))).to_bytes(M, "big"))


def estimate(registers: bytes | bytearray) -> int:
    if len(registers) != M:
        return 0
    zeros = registers.count(0)
    # The sum of 2^-r over the registers, counted per distinct value (in C): exact,
    # since fsum rounds only once.
    raw = _ALPHA * M * M / math.fsum(registers.count(r) * 2.0**-r for r in set(registers))
    if raw <= 2.5 * M and zeros:
        return round(M * math.log(M / zeros))
    return round(raw)
