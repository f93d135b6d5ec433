"""Strategies as data: built-ins compile, user YAML runs, rules apply in order, and the
compiled policy is what the market sees. Ends with a statistical sanity check over seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from conftest import assert_one_line_error, build
from sim import ParameterError, builtin_strategies, load_strategy
from sim.params import CHANNELS, CONTENTS
from sim.rules import E
from sim.state import STAGES, TIERS, Stage
from sim.strategies import STRATEGY_DIR

STRATEGIES = builtin_strategies()
SHAPE = (len(STAGES), len(TIERS))


def cell(policy, stage: str, tier: str) -> dict:
    """The compiled settings of one (stage, tier) cell, with the mix as shares (rounded
    to 6 decimals: the tables are float32)."""
    s, t = STAGES.index(stage), TIERS.index(tier)
    shares = np.diff(policy.mix_cum[s, t], prepend=0.0)
    return {"frequency": round(float(policy.frequency[s, t]), 6), "channel": CHANNELS[policy.channel[s, t]],
            "targeting": round(float(policy.targeting[s, t]), 6),
            "mix": {c: round(float(w), 6) for c, w in zip(CONTENTS, shares) if w > 1e-6}}


def test_builtins_are_the_yaml_files_and_include_the_holdout():
    assert STRATEGIES == sorted(p.stem for p in STRATEGY_DIR.glob("*.yaml"))
    assert "no_contact" in STRATEGIES and len(STRATEGIES) >= 2


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_builtin_compiles_to_valid_tables(name):
    policy = load_strategy(name)
    assert policy.name == name
    assert policy.description.strip(), "built-ins should describe themselves for reports"
    assert policy.frequency.shape == SHAPE and policy.channel.shape == SHAPE and policy.targeting.shape == SHAPE
    assert policy.mix_cum.shape == SHAPE + (len(CONTENTS),)
    assert ((policy.frequency >= 0) & (policy.frequency <= 1)).all()
    assert ((policy.targeting >= 0) & (policy.targeting <= 1)).all()
    assert ((policy.channel >= 0) & (policy.channel < len(CHANNELS))).all()
    assert (np.diff(policy.mix_cum, axis=-1) >= 0).all(), "cumulative mix must not decrease"
    assert (policy.mix_cum >= 0).all()
    assert (policy.mix_cum[..., -1] == 1.0).all(), "cumulative mix must end at exactly 1"
    # the same strategy by name, by path and by mapping compiles to the same tables
    path = STRATEGY_DIR / f"{name}.yaml"
    for other in (load_strategy(path), load_strategy(str(path)), load_strategy(yaml.safe_load(path.read_text()))):
        np.testing.assert_array_equal(other.frequency, policy.frequency)
        np.testing.assert_array_equal(other.channel, policy.channel)
        np.testing.assert_array_equal(other.mix_cum, policy.mix_cum)
        np.testing.assert_array_equal(other.targeting, policy.targeting)


def test_mix_is_cumulative_and_ends_at_exactly_one():
    policy = load_strategy({"default": {"mix": {"value_content": 0.75, "sales_offer": 0.25}}})
    for s in STAGES:
        for t in TIERS:
            assert cell(policy, s, t)["mix"] == {"sales_offer": 0.25, "value_content": 0.75}
    assert (policy.mix_cum[..., -1] == 1.0).all()
    # decimals whose float sum is not exactly 1 are shares that sum to 1, and end at exactly 1
    odd = load_strategy({"default": {"mix": {"sales_offer": 0.7, "value_content": 0.2, "event_invite": 0.1}}})
    assert (odd.mix_cum[..., -1] == 1.0).all()


@pytest.mark.parametrize("mix", [{"value_content": 3, "sales_offer": 1}, {"value_content": 0.5},
                                 {"value_content": 0.7, "sales_offer": 0.3 + 2e-6}])
def test_mix_that_does_not_sum_to_one_is_refused_not_normalised(mix):
    with pytest.raises(ParameterError) as err:
        load_strategy({"default": {"mix": mix}})
    assert_one_line_error(err, "strategy.default.mix", "expected 1")


RULES = [
    {"stages": ["connection", "loyalty"], "frequency": 0.5, "channel": "mail"},
    {"stages": ["loyalty"], "tiers": ["heavy"], "frequency": 0.9, "mix": {"event_invite": 1.0}},
]
DEFAULT = {"frequency": 0.1, "channel": "email", "targeting": 0.3, "mix": {"value_content": 1.0}}


def test_rules_apply_in_order_and_only_where_they_say():
    policy = load_strategy({"name": "ordered", "default": DEFAULT, "rules": RULES})
    for s in STAGES:
        for t in TIERS:
            expected = dict(DEFAULT)
            if s in ("connection", "loyalty"):
                expected.update(frequency=0.5, channel="mail")
            if s == "loyalty" and t == "heavy":
                expected.update(frequency=0.9, mix={"event_invite": 1.0})
            assert cell(policy, s, t) == expected, (s, t)


def test_later_rule_wins_when_rules_are_swapped():
    policy = load_strategy({"name": "swapped", "default": DEFAULT, "rules": list(reversed(RULES))})
    got = cell(policy, "loyalty", "heavy")
    # the broad rule now comes last: it overrides frequency and channel, not the mix it does not name
    assert got["frequency"] == 0.5 and got["channel"] == "mail"
    assert got["mix"] == {"event_invite": 1.0}
    assert cell(policy, "loyalty", "light")["mix"] == {"value_content": 1.0}


def test_rule_without_stages_or_tiers_applies_everywhere():
    policy = load_strategy({"default": DEFAULT, "rules": [{"channel": "phone"},
                                                          {"stages": ["lapsed"], "tiers": ["light"], "frequency": 1.0}]})
    assert (policy.channel == CHANNELS.index("phone")).all()
    assert cell(policy, "lapsed", "light")["frequency"] == 1.0
    assert np.count_nonzero(policy.frequency == 1.0) == 1


@pytest.mark.parametrize("field", ["stages", "tiers"])
def test_a_single_name_instead_of_a_list_is_refused(field):
    name = {"stages": "lapsed", "tiers": "light"}[field]
    with pytest.raises(ParameterError) as err:
        load_strategy({"default": DEFAULT, "rules": [{field: name, "frequency": 1.0}]})
    assert_one_line_error(err, f"strategy.rules[0].{field}='{name}'", f"[{name}]")


@pytest.mark.parametrize("spec", [{}, {"name": "nothing", "description": "says nothing"}, {"default": {}, "rules": []}])
def test_a_strategy_that_says_nothing_is_refused(spec):
    """An empty strategy is a slip (an empty file, a wrong key), not a wish for no contact:
    that is ``no_contact``, which says so."""
    with pytest.raises(ParameterError) as err:
        load_strategy(spec)
    assert_one_line_error(err, "strategy", "no_contact")


def test_user_yaml_strategy_loads_and_runs(tmp_path):
    spec = {
        "name": "my_plan",
        "description": "value for owners, offers for people in the market",
        "default": {"frequency": 0.2, "channel": "email", "mix": {"value_content": 1.0}, "targeting": 0.5},
        "rules": [{"stages": ["consideration"], "frequency": 1.0, "mix": {"sales_offer": 1.0}, "targeting": 1.0}],
    }
    path = tmp_path / "my_plan.yaml"
    path.write_text(yaml.safe_dump(spec))
    m = build(path, seed=4, customers=500).run(26)
    assert m.policy.name == "my_plan"
    assert m.dealer.strategy == "my_plan"
    df = m.metrics()
    assert len(df) == 26 and df["contacts"].sum() > 0
    # the targeting of 1 makes every offer relevant
    assert df["offers"].sum() > 0 and (df["relevant_offers"] == df["offers"]).all()
    # the name defaults to the file name
    unnamed = tmp_path / "file_named.yml"
    unnamed.write_text(yaml.safe_dump({k: v for k, v in spec.items() if k != "name"}))
    assert build(unnamed, seed=4, customers=300).policy.name == "file_named"


def test_omegaconf_mapping_is_accepted():
    omegaconf = pytest.importorskip("omegaconf")
    spec = {"name": "from_hydra", "default": DEFAULT, "rules": RULES}
    from_conf = load_strategy(omegaconf.OmegaConf.create(spec))
    plain = load_strategy(spec)
    np.testing.assert_array_equal(from_conf.frequency, plain.frequency)
    np.testing.assert_array_equal(from_conf.mix_cum, plain.mix_cum)
    np.testing.assert_array_equal(from_conf.channel, plain.channel)


# --- the compiled policy is what the market sees -------------------------------------------

def _contacted_each_week(m, weeks):
    """Yield (stage before, tier, known & opted in before and not moved away, contacted this week) for each week."""
    for _ in range(weeks):
        before = m.pop.contacts.copy()
        stage, tier = m.pop.stage.copy(), m.pop.tier.copy()
        reachable = m.pop.known & m.pop.opted_in
        m.step()
        yield stage, tier, reachable & ((m.events & E.moved) == 0), m.pop.contacts > before


def test_contacts_only_reach_the_stages_and_tiers_the_rules_name():
    spec = {"default": {"frequency": 0.0}, "rules": [
        {"stages": ["connection", "lapsed"], "tiers": ["heavy"], "frequency": 1.0, "mix": {"value_content": 1}}]}
    m = build(spec, seed=8, customers=800)
    total = 0
    for stage, tier, reachable, contacted in _contacted_each_week(m, 20):
        assert not (contacted & ~reachable).any(), "contacted a customer who is unknown or opted out"
        aimed = np.isin(stage, (Stage.CONNECTION, Stage.LAPSED)) & (tier == 1)
        assert not (contacted & ~aimed).any(), "contacted outside the named stages and tiers"
        # frequency 1: every reachable customer of the named cells is contacted
        assert (contacted == (aimed & reachable)).all()
        total += contacted.sum()
    assert total > 0


@pytest.mark.parametrize("name", ["reciprocal_value", "lifecycle", "best_customers", "service_followup"])
def test_builtin_contact_frequency_matches_its_table(name):
    """Over several weeks the share of reachable customers contacted in each cell is close
    to the compiled frequency (a binomial check, cells with enough customer-weeks only)."""
    m = build(name, seed=12, customers=1500, holdout=False)
    freq = m.policy.frequency
    hits = np.zeros(SHAPE)
    trials = np.zeros(SHAPE)
    for stage, tier, reachable, contacted in _contacted_each_week(m, 15):
        np.add.at(trials, (stage[reachable], tier[reachable]), 1)
        np.add.at(hits, (stage[reachable], tier[reachable]), contacted[reachable])
    assert (hits <= trials).all()
    checked = 0
    for s, t in zip(*np.nonzero(trials >= 200)):
        p = freq[s, t]
        sd = np.sqrt(p * (1 - p) / trials[s, t])
        assert abs(hits[s, t] / trials[s, t] - p) <= 5 * sd + 1e-9, (STAGES[s], TIERS[t], hits[s, t] / trials[s, t], p)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("content", CONTENTS)
def test_single_content_mix_sends_only_that_content(content):
    spec = {"default": {"frequency": 1.0, "mix": {content: 1.0}, "targeting": 0.0}}
    df = build(spec, seed=3, customers=500).run(10).metrics()
    assert df["contacts"].sum() > 0
    if content == "sales_offer":
        assert (df["offers"] == df["contacts"]).all()
    else:
        assert (df["offers"] == 0).all()
    if content != "event_invite":
        assert (df["event_attendance"] == 0).all()


def test_no_targeting_and_no_interests_means_no_relevant_offer():
    spec = {"default": {"frequency": 1.0, "mix": {"sales_offer": 1.0}, "targeting": 0.0}}
    df = build(spec, seed=3, customers=500, interest_share=0.0).run(10).metrics()
    assert df["offers"].sum() > 0
    assert (df["relevant_offers"] == 0).all()


# --- statistical sanity over seeds ----------------------------------------------------------

SEEDS = range(5)


@pytest.fixture(scope="module")
def runs():
    """Two years of three strategies on five seeds (1500 customers each)."""
    out = {}
    for strategy in ("no_contact", "constant_sales", "reciprocal_value"):
        for seed in SEEDS:
            m = build(strategy, seed=seed, customers=1500, holdout=False).run(104)
            out[strategy, seed] = (m.metrics(), m.customers_table())
    return out


def test_no_contact_sends_nothing_and_costs_nothing(runs):
    for seed in SEEDS:
        df, table = runs["no_contact", seed]
        for name in ("contacts", "offers", "opens", "visits", "event_attendance", "unsubscribes", "cost"):
            assert (df[name] == 0).all(), (seed, name)
        assert (table["contacts"] == 0).all() and (table["cost"] == 0).all()


def test_constant_sales_contacts_more_and_tires_more_than_reciprocal_value(runs):
    diffs = {"contacts": [], "unsubscribes": [], "fatigue": []}
    for seed in SEEDS:
        blast, _ = runs["constant_sales", seed]
        value, _ = runs["reciprocal_value", seed]
        diffs["contacts"].append(blast["contacts"].sum() - value["contacts"].sum())
        diffs["unsubscribes"].append(blast["unsubscribes"].sum() - value["unsubscribes"].sum())
        diffs["fatigue"].append(blast["fatigue"].mean() - value["fatigue"].mean())
    for name, d in diffs.items():
        d = np.asarray(d, float)
        # more on average, by a margin larger than the seed-to-seed noise, and in most seeds
        assert d.mean() > 2 * d.std(ddof=1) / np.sqrt(len(d)), (name, d)
        assert (d > 0).sum() >= len(d) - 1, (name, d)
