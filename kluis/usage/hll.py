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


def merge(a: bytes | bytearray, b: bytes | bytearray) -> bytearray:
    return bytearray(map(max, a, b))


def estimate(registers: bytes | bytearray) -> int:
    if len(registers) != M:
        return 0
    zeros = registers.count(0)
    raw = _ALPHA * M * M / sum(2.0**-r for r in registers)
    if raw <= 2.5 * M and zeros:
        return round(M * math.log(M / zeros))
    return round(raw)
