"""Plausible ranges: declared beside each parameter, inside its validity range, around its default."""

import pytest

from sim.params import PARAMS

# Parameters meant to have no plausible range: a switch, and a budget that is unlimited by default.
WITHOUT = {"word_of_mouth", "budget"}


def test_every_behaviour_market_economics_and_rival_parameter_has_a_plausible_range():
    missing = [name for name, p in PARAMS.items() if p.plausible is None and name not in WITHOUT]
    assert not missing, f"no plausible range: {missing}"
    assert all(PARAMS[name].plausible is None for name in WITHOUT)


@pytest.mark.parametrize("name", [n for n, p in PARAMS.items() if p.plausible is not None])
def test_plausible_range_lies_in_the_validity_range_and_contains_the_default(name):
    p = PARAMS[name]
    lo, hi = p.plausible
    assert p.lo <= lo < hi <= p.hi, f"{name}: plausible {p.plausible} outside valid [{p.lo}, {p.hi}]"
    assert lo <= p.default <= hi, f"{name}: default {p.default} outside plausible {p.plausible}"
    p.check(lo), p.check(hi)  # each end is a value a run accepts (whole numbers for whole-number parameters)


def test_plausible_ranges_keep_the_cross_field_rules():
    from sim.params import BELOW

    for low, high in BELOW:
        if PARAMS[low].plausible and PARAMS[high].plausible and high != "customers":
            assert PARAMS[low].plausible[1] < PARAMS[high].plausible[0], (low, high)
