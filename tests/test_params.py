"""Bad input gets one clear line naming the field and what is allowed; good input passes.

Ranges are read from ``sim.params.PARAMS`` so the tests survive recalibration.
"""

from __future__ import annotations

import math

import numpy as np

import pytest

from conftest import assert_one_line_error, build
from sim import PARAMS, ParameterError, RelationshipModel, load_strategy, validate
from sim.params import CHANNELS, CONTENTS
from sim.state import STAGES, TIERS

GROUPS = {"market", "behaviour", "economics", "rival"}
NUMERIC = sorted(name for name, p in PARAMS.items() if p.kind is not bool)
CROSS_CHECKED = {"detractor_threshold", "promoter_threshold"}  # must keep detractor < promoter


# --- the parameter table itself ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PARAMS))
def test_every_parameter_is_documented_and_its_default_is_allowed(name):
    p = PARAMS[name]
    assert p.name == name
    assert p.group in GROUPS
    assert p.doc.strip() and p.source.strip()
    assert p.check(p.default) == p.default
    if p.kind is not bool:
        assert p.lo <= p.default <= p.hi


def test_defaults_validate_and_are_complete():
    values = validate()
    assert values == {name: p.default for name, p in PARAMS.items()}
    assert validate({}) == values
    assert validate(None) == values


@pytest.mark.parametrize("name", sorted(set(NUMERIC) - CROSS_CHECKED))
def test_bounds_are_inclusive(name):
    p = PARAMS[name]
    for value in (p.lo, p.hi):
        if math.isfinite(value):
            assert validate({name: value})[name] == value


@pytest.mark.parametrize("name", NUMERIC)
def test_out_of_range_is_rejected_with_the_range(name):
    p = PARAMS[name]
    outside = [v for v in (p.lo - max(1.0, abs(p.lo)), p.hi + max(1.0, abs(p.hi))) if math.isfinite(v)]
    assert outside, f"{name} has no finite bound to test"
    for value in outside:
        with pytest.raises(ParameterError) as excinfo:
            validate({name: value})
        assert_one_line_error(excinfo, name, p.allowed)


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("value", ["abc", None, "0.5"])
def test_wrong_type_is_rejected_for_every_number(name, value):
    with pytest.raises(ParameterError) as excinfo:
        validate({name: value})
    assert_one_line_error(excinfo, name, PARAMS[name].allowed)


@pytest.mark.parametrize("name", [n for n in NUMERIC if PARAMS[n].kind is float])
def test_nan_is_rejected(name):
    with pytest.raises(ParameterError) as excinfo:
        validate({name: float("nan")})
    assert_one_line_error(excinfo, name)


def test_whole_numbers_accept_integral_floats_only():
    assert validate({"customers": 300.0})["customers"] == 300
    assert isinstance(validate({"customers": 300.0})["customers"], int)
    with pytest.raises(ParameterError) as excinfo:
        validate({"customers": 300.5})
    assert_one_line_error(excinfo, "customers", "whole number")


def test_threshold_order_is_checked():
    with pytest.raises(ParameterError) as excinfo:
        validate({"detractor_threshold": 0.8, "promoter_threshold": 0.6})
    assert_one_line_error(excinfo, "detractor_threshold", "promoter_threshold")


# --- bad input to the model: one line, the field, what is allowed --------------------------

MODEL_CASES = {
    "customers_text": (dict(customers="abc"), ("customers", PARAMS["customers"].allowed)),
    "customers_zero": (dict(customers=0), ("customers", PARAMS["customers"].allowed)),
    "customers_negative": (dict(customers=-5), ("customers", PARAMS["customers"].allowed)),
    "customers_fraction": (dict(customers=12.5), ("customers", "whole number")),
    "customers_bool": (dict(customers=True), ("customers",)),
    "probability_above_one": (dict(heed_negative=1.7), ("heed_negative", PARAMS["heed_negative"].allowed)),
    "probability_below_zero": (dict(opt_in=-0.1), ("opt_in", PARAMS["opt_in"].allowed)),
    "unknown_parameter": (dict(heed_negativ=0.5), ("heed_negativ", "heed_negative", "allowed")),
    "bool_as_text": (dict(word_of_mouth="yes"), ("word_of_mouth", "true or false")),
    "bool_as_number": (dict(word_of_mouth=1), ("word_of_mouth", "true or false")),
    "number_as_bool": (dict(talk_rate=True), ("talk_rate", PARAMS["talk_rate"].allowed)),
    "unknown_strategy": (dict(strategy="blast_everyone"), ("strategy", "blast_everyone", "reciprocal_value",
                                                           "no_contact")),
    "strategy_wrong_type": (dict(strategy=42), ("strategy", "name", "YAML", "mapping")),
    "rng_text": (dict(rng="x"), ("rng", "seed")),
    "rng_negative": (dict(rng=-1), ("rng", ">= 0")),
    "rng_float": (dict(rng=1.5), ("rng", "seed")),
    "rng_bool": (dict(rng=True), ("rng",)),
    "journeys_negative": (dict(journeys=-1), ("journeys", ">= 0")),
    "journeys_text": (dict(journeys="5"), ("journeys", ">= 0")),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_bad_model_input_gives_one_line_error(case):
    kwargs, fragments = MODEL_CASES[case]
    kwargs = {"customers": 300, "rng": 1, **kwargs}
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(**kwargs)
    assert_one_line_error(excinfo, *fragments)


def test_missing_strategy_file_is_named(tmp_path):
    path = tmp_path / "nowhere" / "missing_strategy.yaml"
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=300, strategy=str(path), rng=1)
    assert_one_line_error(excinfo, "strategy", "missing_strategy.yaml", "not found")
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=300, strategy=path, rng=1)
    assert_one_line_error(excinfo, "strategy", "missing_strategy.yaml")


@pytest.mark.parametrize("text", ["default: {frequency: [1, 2\n", "- just\n- a list\n", "just text\n"])
def test_malformed_strategy_file_gives_one_line_error(tmp_path, text):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=300, strategy=path, rng=1)
    assert_one_line_error(excinfo, "strategy", "broken.yaml")


def _rule(**settings):
    return {"name": "bad", "default": {"frequency": 0.5}, "rules": [settings]}


STRATEGY_CASES = {
    "unknown_channel": (_rule(channel="fax"), ("strategy.rules[0].channel", "fax", *CHANNELS)),
    "unknown_content": (_rule(mix={"coupon": 1.0}), ("coupon", *CONTENTS)),
    "unknown_stage": (_rule(stages=["bought"], frequency=1.0), ("strategy.rules[0].stages", "bought", *STAGES)),
    "unknown_tier": (_rule(tiers=["medium"], frequency=1.0), ("strategy.rules[0].tiers", "medium", *TIERS)),
    "empty_stages": (_rule(stages=[], frequency=1.0), ("strategy.rules[0].stages", *STAGES)),
    "frequency_above_one": (_rule(frequency=1.5), ("strategy.rules[0].frequency", "1.5", "[0, 1]")),
    "frequency_text": (_rule(frequency="often"), ("strategy.rules[0].frequency", "[0, 1]")),
    "frequency_bool": (_rule(frequency=True), ("strategy.rules[0].frequency", "[0, 1]")),
    "targeting_negative": (_rule(targeting=-0.1), ("strategy.rules[0].targeting", "[0, 1]")),
    "negative_weight": (_rule(mix={"sales_offer": -1.0}), ("sales_offer", ">= 0")),
    "weight_nan": (_rule(mix={"sales_offer": float("nan"), "value_content": 1.0}), ("sales_offer", ">= 0")),
    "weight_inf": (_rule(mix={"sales_offer": float("inf"), "value_content": 1.0}), ("sales_offer", ">= 0")),
    "weights_sum_to_zero": (_rule(mix={"sales_offer": 0.0}), ("mix", "positive")),
    "mix_not_mapping": (_rule(mix="sales_offer"), ("mix", *CONTENTS)),
    "unknown_setting": (_rule(budget=10), ("strategy.rules[0].budget", "frequency", "channel", "mix", "targeting")),
    "default_channel": ({"default": {"channel": "pigeon"}}, ("strategy.default.channel", "pigeon", *CHANNELS)),
    "default_not_mapping": ({"default": [1, 2]}, ("strategy.default", "frequency")),
    "unknown_key": ({"defaults": {"frequency": 0.5}}, ("strategy.defaults", "default", "rules")),
    "rules_not_list": ({"rules": {"stages": ["loyalty"]}}, ("strategy.rules", "list")),
    "rule_not_mapping": ({"rules": ["loyalty"]}, ("strategy.rules[0]", "mapping")),
}


@pytest.mark.parametrize("case", sorted(STRATEGY_CASES))
def test_bad_strategy_mapping_gives_one_line_error(case):
    spec, fragments = STRATEGY_CASES[case]
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=300, strategy=spec, rng=1)
    assert_one_line_error(excinfo, *fragments)


def test_bad_strategy_in_yaml_file_gives_one_line_error(tmp_path):
    path = tmp_path / "fractional.yaml"
    path.write_text("name: fractional\ndefault:\n  frequency: 1.5\n")
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=300, strategy=path, rng=1)
    assert_one_line_error(excinfo, "frequency", "1.5", "[0, 1]")


@pytest.mark.parametrize("weeks", [-1, 1.5, "3", None, True])
def test_bad_weeks_gives_one_line_error(weeks):
    m = build(customers=300)
    with pytest.raises(ParameterError) as excinfo:
        m.run(weeks=weeks)
    assert_one_line_error(excinfo, "weeks", ">= 0")
    assert m.week == 0 and len(m.metrics()) == 0, "a rejected run must not advance the model"


@pytest.mark.parametrize("bad_id", [-1, 300, 10**9, 1.5, "3", None, True])
def test_bad_customer_id_gives_one_line_error(bad_id):
    m = build(customers=300).run(1)
    with pytest.raises(ParameterError) as excinfo:
        m.customer(bad_id)
    assert_one_line_error(excinfo, "customer", "[0, 299]")


def test_parameter_error_is_a_value_error():
    assert issubclass(ParameterError, ValueError)


def test_validated_parameters_are_what_the_model_uses():
    m = build(customers=321, heed_negative=0.5, word_of_mouth=False)
    assert m.params == validate({"customers": 321, "heed_negative": 0.5, "word_of_mouth": False})
    assert m.pop.n == 321


# --- numpy scalars are numbers too (sweeps often build values with numpy) -------------------

@pytest.mark.parametrize("value", [np.int64(300), np.int32(300), np.float64(300.0), np.float32(300.0)],
                         ids=lambda v: type(v).__name__)
def test_numpy_scalars_are_accepted_for_whole_numbers(value):
    out = validate({"customers": value})["customers"]
    assert out == 300 and type(out) is int


@pytest.mark.parametrize("value", [np.float64(0.5), np.float32(0.5), np.int64(1)], ids=lambda v: type(v).__name__)
def test_numpy_scalars_are_accepted_for_numbers(value):
    out = validate({"heed_negative": value})["heed_negative"]
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize("value", [np.float32(0.5), np.float64(0.5), np.int64(1)], ids=lambda v: type(v).__name__)
def test_numpy_scalars_are_accepted_in_strategies(value):
    policy = load_strategy({"default": {"frequency": value, "targeting": value}})
    assert np.allclose(policy.frequency, float(value)) and np.allclose(policy.targeting, float(value))


def test_numpy_scalars_still_range_checked():
    with pytest.raises(ParameterError) as excinfo:
        validate({"heed_negative": np.float32(1.7)})
    assert_one_line_error(excinfo, "heed_negative", PARAMS["heed_negative"].allowed)


# --- the model's own switches ----------------------------------------------------------------

@pytest.mark.parametrize("holdout", ["no", "yes", 2])
def test_holdout_must_be_true_or_false(holdout):
    """``holdout="no"`` must not silently switch the holdout on."""
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=300, rng=1, holdout=holdout)
    assert_one_line_error(excinfo, "holdout", "true or false")


def test_strategy_none_is_rejected():
    with pytest.raises(ParameterError) as excinfo:
        RelationshipModel(customers=300, rng=1, strategy=None)
    assert_one_line_error(excinfo, "strategy")
