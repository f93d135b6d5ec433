"""Faults an unlucky user meets (issue 11), one test or more per case: hostile files, huge
inputs, kills, full or read-only disks, concurrent runs, damaged folders. Each case's
number in the issue is in the test's comment. End-to-end tests run the real command and
are marked ``slow``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from sim import ParameterError, RelationshipModel, limits, load_strategy
from sim.cli import main
from sim.limits import cores, estimate_bytes, plan_workers
from sim.strategies import MAX_DEPTH, MAX_FILE_BYTES

RAPPORT = shutil.which("rapport", path=str(Path(sys.executable).parent)) or "rapport"


# --- hostile strategy files (cases 2, 9, 10) --------------------------------------------------
def laughs(levels: int) -> str:
    """A "billion laughs" YAML: each level lists the previous one nine times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\nname: laughs\n"


def test_billion_laughs_is_refused_before_expansion(tmp_path):  # case 2
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs(6))  # 9**7 values once expanded from 300 bytes (9 levels would hang unchecked code)
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "laughs.yaml", "aliases")


def test_a_few_aliases_to_values_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text("default: &d {frequency: 0.5, mix: {value_content: 1}}\n"
                    "rules: [{stages: [loyalty], frequency: 0.25}]\nextra: *d\n")
    with pytest.raises(ParameterError) as err:  # parsed fine; the unknown key is what is wrong
        load_strategy(path)
    assert_one_line_error(err, "strategy.extra")


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("default: &d\n  mix: *d\n")
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "loop.yaml", "itself")


def test_oversized_strategy_file_is_refused_without_reading_it(tmp_path):  # case 2 (100 MB rules)
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        f.write("rules:\n")
        f.write("  - {stages: [loyalty], frequency: 0.5}\n" * (MAX_FILE_BYTES // 30))
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "big.yaml", "bytes")


def test_non_utf8_strategy_file_is_one_line_naming_the_file(tmp_path):  # case 10
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "latin1.yaml", "UTF-8")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 5000])
def test_deeply_nested_strategy_file_is_one_line_naming_the_file(tmp_path, depth):  # case 10
    path = tmp_path / "deep.yaml"
    path.write_text("default: " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "deep.yaml", "nested too deeply")


def test_self_referencing_mapping_in_the_api_is_one_line():  # case 10
    spec: dict = {"name": "loop"}
    spec["default"] = spec
    with pytest.raises(ParameterError) as err:
        load_strategy(spec)
    assert_one_line_error(err, "strategy")


def test_huge_mix_weights_keep_their_proportions(tmp_path):  # case 9
    path = tmp_path / "huge.yaml"
    path.write_text("default: {frequency: 0.5, mix: {sales_offer: 1.0e+308, value_content: 1.0e+308}}\n")
    with np.errstate(all="raise"):  # no overflow on the way
        policy = load_strategy(path)
    np.testing.assert_allclose(np.diff(policy.mix_cum, prepend=0, axis=-1)[..., :2], 0.5)
    tiny = load_strategy({"default": {"mix": {"sales_offer": 5e-324, "value_content": 1.5e-323}}})
    np.testing.assert_allclose(np.diff(tiny.mix_cum[0, 0], prepend=0)[:2], [0.25, 0.75], rtol=0.2)


def test_whole_number_too_big_for_a_float_is_one_line():  # case 9
    with pytest.raises(ParameterError) as err:
        load_strategy({"default": {"mix": {"sales_offer": 10**400}}})
    message = assert_one_line_error(err, "strategy.default.mix.sales_offer", "finite weight")
    assert len(message) < 200


def test_numpy_integer_seed_is_a_seed():  # case 10
    a = RelationshipModel(customers=200, rng=np.int64(3), journeys=0).run(3).metrics()
    b = RelationshipModel(customers=200, rng=3, journeys=0).run(3).metrics()
    assert a.equals(b)


# --- memory and cores (case 5) ----------------------------------------------------------------
def test_workers_never_exceed_the_cores_or_the_runs():
    assert plan_workers(64, 64, 5000, 6, 2, available=2**40) == min(64, cores())
    assert plan_workers(0, 1, 5000, 6, 1, available=2**40) == 1


def test_workers_shrink_to_what_fits_in_memory():
    one = estimate_bytes(1_000_000, 6, 2, 1)
    assert plan_workers(2, 10, 1_000_000, 6, 2, available=one + 1) == 1


def test_a_run_too_big_for_the_memory_stops_with_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(limits, "available_bytes", lambda: 8 * 2**30)
    code = main(["market.customers=10000000", "market.social_ties=50", f"results_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "market.customers=10000000" in err and "GiB" in err  # the machine, not the input
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_memory_estimate_covers_a_measured_run(tmp_path):
    """Peak resident memory of a real run (parent and workers) stays under the estimate,
    and the estimate is not wildly above it."""
    customers, ties = 300_000, 20
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
    out = subprocess.run([sys.executable, "-c", probe, RAPPORT, f"market.customers={customers}",
                          f"market.social_ties={ties}", "horizon_weeks=2", "replications=1", "workers=1", "report=false",
                          f"results_dir={tmp_path}"], capture_output=True, text=True, timeout=300, check=True)
    peak = int(out.stdout.strip())
    estimate = estimate_bytes(customers, ties, 2, 1)  # the default experiment has two arms
    assert peak <= estimate <= 3 * peak, (peak, estimate)
