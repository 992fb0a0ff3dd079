"""A real install works: the wheel, installed into a fresh venv, scores, sweeps and searches from an empty folder.

The venv gets the wheel alone (`--no-deps`); its dependencies come from the test's own environment through a
path file, which puts them after the venv's site-packages, so meco_lab, its configs (conf/) and sweeps
(sweeps/) are the wheel's, never the repository's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import polars as pl
import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a fresh venv with the project's wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(root / "dist"), str(REPO)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (wheel,) = (root / "dist").glob("meco_lab-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # after the wheel's own packages
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return python


def run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"WANDB_MODE": "offline"}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_holds_the_package_its_configs_and_sweeps(installed, tmp_path):
    done = run(installed, tmp_path, "-c", "import meco_lab, json; from meco_lab.core.resources import conf_dir, "
               "sweeps_dir; print(json.dumps([meco_lab.__file__, str(conf_dir()), str(sweeps_dir())]))")
    assert done.returncode == 0, done.stderr
    package, conf, sweeps = (Path(p) for p in json.loads(done.stdout))
    venv = installed.parent.parent
    assert venv in package.parents and venv in conf.parents and venv in sweeps.parents
    assert (conf / "score.yaml").is_file() and (conf / "proxy" / "meco.yaml").is_file()
    assert (sweeps / "ablation-n.yaml").is_file()


def test_score_sweep_and_search_run_from_an_empty_folder(installed, tmp_path):
    done = run(installed, tmp_path, "-m", "meco_lab.score", "space.limit=50")
    assert done.returncode == 0, done.stderr
    (summary,) = (tmp_path / "outputs" / "score").glob("nats_tss/meco/*/summary.json")
    assert json.loads(summary.read_text())["n_archs"] == 50

    done = run(installed, tmp_path, "-m", "meco_lab.sweep", "ablation-n", "profile=quick", "space.sample=20",
               "sweep.tracking=none")
    assert done.returncode == 0, done.stderr
    trials = pl.read_parquet(tmp_path / "outputs" / "sweeps" / "ablation-n-quick" / "trials.parquet")
    assert len(trials) == 12 and (tmp_path / "outputs" / "sweeps" / "ablation-n-quick" / "report.md").is_file()

    done = run(installed, tmp_path, "-m", "meco_lab.search", "method=topk", "space.limit=50")
    assert done.returncode == 0, done.stderr
    selection = json.loads((tmp_path / "outputs" / "latest_selection.json").read_text())
    assert selection["scores"]["source"] == "reused" and len(selection["ranked"]) == 10
