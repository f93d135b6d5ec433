"""The built wheel is self-contained: installed into a fresh virtual environment, it runs
``rapport`` and the Python API from a folder outside the repository.

The wheel goes in with ``--no-deps``; its dependencies come from this environment's
site-packages (added by a ``.pth`` file, which does not bring the editable checkout), so
the test proves what the wheel holds without downloading anything.
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the built wheel installed; returns its bin folder."""
    tmp = tmp_path_factory.mktemp("package")
    wheels = tmp / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    [wheel] = wheels.glob("rapport-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (Path(purelib) / "rapport_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    return venv / "bin"


@pytest.mark.slow
def test_the_wheel_runs_an_experiment_and_the_api_outside_the_repository(installed, tmp_path):
    where = subprocess.run([installed / "python", "-c", "import sim; print(sim.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout
    assert str(installed.parent) in where and str(ROOT) not in where  # the installed copy, not the checkout

    api = ("from sim import RelationshipModel, builtin_strategies\n"
           "m = RelationshipModel(customers=300, strategy='reciprocal_value', rng=1, journeys=0).run(5)\n"
           "from sim.dealership import load_customers\n"
           "from sim.targets import load_targets\n"  # the example customer file and rates ship too
           "print(len(builtin_strategies()), len(m.metrics()), len(load_customers('example_dealership')),\n"
           "      len(load_targets('example_rates')))")
    out = subprocess.run([installed / "python", "-c", api], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.split() == ["7", "5", "2400", "5"], out.stderr

    # A user's own folder replaces a built-in experiment of the same name.
    mine = tmp_path / "my_configs" / "experiment"
    mine.mkdir(parents=True)
    (mine / "targeting.yaml").write_text("# @package _global_\nexperiment:\n  question: Mine?\n  arms:\n"
                                         "    - {name: a, strategy: constant_sales}\n"
                                         "    - {name: b, strategy: lifecycle}\n")
    for args in ([], ["--config-dir", str(tmp_path / "my_configs")]):
        run = subprocess.run([installed / "rapport", *args, "experiment=targeting", "market.customers=300",
                              "horizon_weeks=10", "replications=2", "workers=1"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
    runs = sorted((tmp_path / "results" / "targeting").iterdir())
    questions = [json.loads((r / "meta.json").read_text())["experiment"]["question"] for r in runs]
    assert questions[0].startswith("Do offers aimed") and questions[1] == "Mine?"
    assert all((r / "report.html").is_file() for r in runs)
