"""The visitor sketch: merging and estimating give what their plain definitions give."""

from __future__ import annotations

import math
import random

import pytest

from kluis.usage import hll


def _merge_by_definition(a: bytes, b: bytes) -> bytearray:
    return bytearray(max(x, y) for x, y in zip(a, b, strict=True))


def _estimate_by_definition(registers: bytes) -> int:
    zeros = registers.count(0)
    raw = hll._ALPHA * hll.M * hll.M / sum(2.0**-r for r in registers)
    if raw <= 2.5 * hll.M and zeros:
        return round(hll.M * math.log(hll.M / zeros))
    return round(raw)


def _sketch(rng: random.Random, visitors: int) -> bytearray:
    sketch = hll.new()
    for _ in range(visitors):
        hll.add(sketch, rng.getrandbits(64))
    return sketch


@pytest.mark.parametrize("visitors", [0, 1, 40, 3_000, 60_000])
def test_merge_and_estimate_match_their_definitions(visitors):
    rng = random.Random(visitors)
    for _ in range(20):
        a, b = _sketch(rng, visitors), _sketch(rng, rng.randrange(visitors + 1))
        # The largest rank a 64-bit hash can give, in either sketch.
        a[rng.randrange(hll.M)] = 64 - hll.P + 1
        merged = hll.merge(a, b)
        assert merged == _merge_by_definition(a, b) == hll.merge(b, a)
        assert hll.estimate(merged) == _estimate_by_definition(bytes(merged))
        assert hll.estimate(a) == _estimate_by_definition(bytes(a))


def test_a_sketch_of_another_length_still_merges_register_by_register():
    assert hll.merge(b"\x01\x05", b"\x03\x02") == bytearray(b"\x03\x05")
    assert hll.estimate(b"\x01") == 0


def test_the_estimate_is_near_the_truth():
    sketch = _sketch(random.Random(5), 50_000)
    assert abs(hll.estimate(sketch) - 50_000) < 50_000 * 0.05
