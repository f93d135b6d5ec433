"""Other Hydra launchers run a sweep: Submitit's local executor and Ray (local).

These start worker processes that import Rapport and load its compiled kernels, so they
take a minute or more on a busy machine: they are marked ``launchers`` and left out of
``make test``; run them with ``.venv/bin/python -m pytest -m launchers``. Each job's
meta.json must record the user's command, not the worker's.

Ray's launcher (hydra-ray-launcher) pins cloudpickle 2.2, which joblib 1.6 (Hydra's joblib
launcher) refuses, so Ray lives in its own environment: ``make ray-env`` makes ``.venv-ray``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.results import COMPARISON, MARKER

ROOT = Path(__file__).resolve().parent.parent
RAY_VENV = ROOT / ".venv-ray"
SWEEP = ["seed=range(4)", "market.customers=300", "horizon_weeks=10", "replications=2"]

pytestmark = [pytest.mark.slow, pytest.mark.launchers]


def sweep(rapport: Path, launcher: list[str], tmp_path: Path) -> Path:
    """Runs a 4-job sweep with ``launcher`` and checks its folders; returns the sweep folder."""
    out = tmp_path / "results"
    args = ["-m", *launcher, *SWEEP, f"results_dir={out}"]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.run([str(rapport), *args], cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [folder] = list((out / "multirun").iterdir())
    jobs = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1", "2", "3"] and all((p / MARKER).is_file() for p in jobs)
    for job in jobs:  # the user's command, not the worker's
        assert json.loads((job / "meta.json").read_text())["argv"] == ["rapport", *args]
    assert (folder / COMPARISON / MARKER).is_file()
    return folder


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
                    reason="hydra-submitit-launcher not installed (pip install -e '.[sweepers]')")
def test_submitit_local_runs_a_sweep(tmp_path):
    rapport = Path(sys.executable).parent / "rapport"
    sweep(rapport, ["hydra/launcher=submitit_local"], tmp_path)


def _ray_rapport() -> Path | None:
    """A ``rapport`` whose environment has Ray's launcher: this one, or ``.venv-ray``."""
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None:
        return Path(sys.executable).parent / "rapport"
    candidate = RAY_VENV / "bin" / "rapport"
    if candidate.is_file() and subprocess.run([str(RAY_VENV / "bin" / "python"), "-c",
                                               "import hydra_plugins.hydra_ray_launcher"]).returncode == 0:
        return candidate
    return None


@pytest.mark.skipif(_ray_rapport() is None, reason="hydra-ray-launcher not installed here nor in .venv-ray "
                                                   "(it pins cloudpickle 2.2: `make ray-env`)")
def test_ray_local_runs_a_sweep(tmp_path):
    sweep(_ray_rapport(), ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"], tmp_path)
