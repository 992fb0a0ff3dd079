"""The justfile recipes users type, run end to end with the real `just` from a scratch working folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
from conftest import REPO

JUST = shutil.which("just")


def just(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """`just ARGS` on the repository's justfile, run in `cwd` (so outputs/ lands there), W&B offline."""
    assert JUST is not None, "`just` is not installed: `pip install rust-just` (the dev extra brings it)"
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONUNBUFFERED": "1",
           "PYTHON": sys.executable, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([JUST, "--justfile", str(REPO / "justfile"), "--working-directory", str(cwd), *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_just_list_explains_every_recipe(tmp_path):
    done = just("--list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    recipes = re.findall(r"^([a-z][\w-]*)(?:[^:\n]*)?:", (REPO / "justfile").read_text(), flags=re.M)
    listed = {line.split()[0]: line for line in done.stdout.splitlines()[1:] if line.strip()}
    assert set(recipes) - {"python"} <= set(listed), done.stdout
    assert all("#" in line for name, line in listed.items() if name != "default"), done.stdout


def test_just_score_runs_the_score_cli(tmp_path):
    done = just("score", "space.limit=30", "hydra.run.dir=outputs/run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "outputs" / "run" / "summary.json").read_text())
    assert summary["n_archs"] == 30 and summary["config"]["workers"] == 2  # the recipe scores with 2 workers
    assert "spearman rho" in done.stderr


def test_just_sweep_quick_profile(tmp_path):
    done = just("sweep", "ablation-n", "profile=quick", "space.sample=20", "sweep.tracking=none", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "outputs" / "sweeps" / "ablation-n-quick"
    trials = pl.read_parquet(folder / "trials.parquet")
    assert len(trials) == 12 and (trials["n_archs"] == 20).all()
    assert (folder / "report.md").is_file() and (tmp_path / "outputs" / "cache" / "scores").is_dir()


def test_just_paper_quick_writes_under_outputs(tmp_path):
    """`just paper quick` runs its three quick sweeps and writes the comparison under outputs/, not docs/."""
    docs_before = sorted(p.name for p in (REPO / "docs").iterdir())
    done = just("paper", "quick", cwd=tmp_path, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = (tmp_path / "outputs" / "paper-quick.md").read_text()
    for row in ("Table 1 MeCo, real data (rho)", "Table 3 MeCo, random input (rho)", "Table 5 MeCo_opt n=8 (rho)",
                "Table 12 MeCo top-10 mean acc. (%)"):
        assert f"| {row} | cifar10 |" in doc, row
    assert "| not run |" not in doc  # every TSS row has a value (the benchmark sweeps are `just paper-benchmarks`)
    assert sorted(p.name for p in (REPO / "docs").iterdir()) == docs_before
    for sweep in ("random-vs-real-quick", "ablation-n-quick", "seeds-quick"):
        assert (tmp_path / "outputs" / "sweeps" / sweep / "report.md").is_file(), sweep


def test_lint_recipe_is_clean():
    """`just lint` runs ruff on the source tree (from the repository, where its paths point)."""
    done = just("lint", cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
