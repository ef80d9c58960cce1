"""The betalingskenmerk: check digit per the Betaalvereniging specification."""

from __future__ import annotations

import pytest

from kluis.billing.reference import check_digit, is_valid, new_reference, with_check_digit


def test_the_spec_example_has_check_digit_5():
    assert check_digit("000056789012345") == 5
    assert with_check_digit("000056789012345") == "5000056789012345"
    assert is_valid("5000056789012345")


@pytest.mark.parametrize("wrong", ["0", "1", "2", "3", "4", "6", "7", "8", "9"])
def test_any_other_check_digit_is_refused(wrong):
    assert not is_valid(f"{wrong}000056789012345")


@pytest.mark.parametrize(
    "text",
    ["", "500005678901234", "50000567890123456", "5000O56789012345", "\u0665000056789012345"],
)
def test_wrong_length_or_non_ascii_digits_are_refused(text):
    assert not is_valid(text)


def test_remainders_10_and_11_map_to_1_and_0():
    bodies = {check_digit(f"{n:015d}") for n in range(2000)}
    assert bodies <= set(range(10))
    # A = 0 gives C = 11 -> 0; find a body with A mod 11 == 1 (C = 10 -> 1).
    assert check_digit("0" * 15) == 0
    assert check_digit("000000000000006") == 1  # A = 6 * 2 = 12, 12 mod 11 = 1


def test_new_references_are_valid_and_16_digits():
    for _ in range(200):
        reference = new_reference()
        assert len(reference) == 16
        assert is_valid(reference)


def test_the_check_digit_follows_the_weights_from_the_right_for_any_body():
    import random

    from kluis.billing.reference import WEIGHTS

    rng = random.Random(9)
    for _ in range(2000):
        body = f"{rng.randrange(10**15):015d}"
        total = sum(int(d) * WEIGHTS[i % 10] for i, d in enumerate(reversed(body)))
        assert check_digit(body) == {10: 1, 11: 0}.get(11 - total % 11, 11 - total % 11)
