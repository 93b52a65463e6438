"""Chance-match probabilities and the capacity a sound leak check needs."""

from __future__ import annotations

import math

import pytest

from ParomaWatermarkLib.statistics import binomial_tail, chance_match_probability, required_bits


def test_binomial_tail_exact_values():
    assert binomial_tail(0, 10) == 1.0
    assert binomial_tail(10, 10) == 2**-10
    assert binomial_tail(256, 256) == 2.0**-256
    assert math.isclose(binomial_tail(2, 3), 0.5)
    assert math.isclose(binomial_tail(128, 256) - binomial_tail(129, 256), math.comb(256, 128) / 2**256)


def test_required_bits_for_the_reference_ledger():
    assert required_bits() == 47
    assert 2**-47 * 100_000 < 1e-9 < 2**-46 * 100_000
    assert required_bits(1e-6, 1000) == 30


def test_chance_match_over_a_ledger_is_bounded_by_one():
    assert chance_match_probability(47, 47, 100_000) < 1e-9
    assert chance_match_probability(3, 6, 1000) == 1.0
    with pytest.raises(ValueError):
        binomial_tail(5, 4)
