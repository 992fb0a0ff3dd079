"""The sweep score cache, checked from outside: no proxy call on a hit, one computation per key under contention."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import time

import polars as pl
from conftest import REPO
from rich.console import Console

from meco_lab.core.config import compose_config
from meco_lab.proxies.meco import MeCoOpt
from meco_lab.scoring.cache import cached_scores
from meco_lab.scoring.plan import plan_run
from meco_lab.scoring.store import ScoreStore

OVERRIDES = ["proxy=meco_opt", "space.sample=25", "space.sample_seed=5"]


def test_a_cache_hit_calls_no_proxy(tmp_path, monkeypatch):
    """Once cached, the same settings are served while the proxy raises on any call."""
    plan = plan_run(compose_config(OVERRIDES))
    first, _, _ = cached_scores(plan, tmp_path, Console(file=io.StringIO()))

    def no_call(*args, **kwargs):
        raise AssertionError("the proxy was called on a cache hit")

    monkeypatch.setattr(MeCoOpt, "score", no_call)
    again, _, _ = cached_scores(plan_run(compose_config(OVERRIDES)), tmp_path, Console(file=io.StringIO()))
    assert again.select("index", "score").equals(first.select("index", "score"))
    # settings outside the key (the ground truth) are a hit too
    truth_only = plan_run(compose_config([*OVERRIDES, "truth.metric=valid"]))
    assert cached_scores(truth_only, tmp_path, Console(file=io.StringIO()))[0]["score"].equals(first["score"])
    # a new key does call it (and the engine records the proxy's failure per architecture)
    other_seed = plan_run(compose_config([*OVERRIDES, "seed=1"]))
    missed, _, _ = cached_scores(other_seed, tmp_path, Console(file=io.StringIO()))
    assert missed["error"].to_list() == ["AssertionError: the proxy was called on a cache hit"] * 25


WORKER = textwrap.dedent("""
    import io, os, sys, time
    from pathlib import Path
    from rich.console import Console
    from meco_lab.core.config import compose_config
    from meco_lab.proxies.meco import MeCoOpt
    from meco_lab.scoring.plan import plan_run
    from meco_lab.scoring.cache import cached_scores

    cache, log, go, out = map(Path, sys.argv[1:5])
    real = MeCoOpt.score

    def counted(self, candidate, x, y=None):  # every real proxy call leaves a line: pid and architecture
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {candidate.index}\\n")
        return real(self, candidate, x, y)

    MeCoOpt.score = counted
    plan = plan_run(compose_config(sys.argv[5:]))
    while not go.exists():  # both processes start scoring together
        time.sleep(0.01)
    scores, _, _ = cached_scores(plan, cache, Console(file=io.StringIO()))
    scores.write_parquet(out)
""")


def test_two_processes_on_one_key_compute_it_once(tmp_path):
    """Two processes asking for the same uncached key at once: each architecture is computed by one of them."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    log, go = tmp_path / "calls.log", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), str(log), str(go),
                               str(tmp_path / f"out{k}.parquet"), *OVERRIDES], cwd=REPO, stderr=subprocess.PIPE,
                              text=True) for k in range(2)]
    time.sleep(3)  # both have planned and wait on `go`
    go.touch()
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
    calls = [line.split() for line in log.read_text().splitlines()]
    indices = [int(index) for _, index in calls]
    assert sorted(indices) == sorted(set(indices)) and len(indices) == 25, "an architecture was computed twice"
    assert len({pid for pid, _ in calls}) == 1  # the second process waited on the lock and found them all
    one, two = (pl.read_parquet(tmp_path / f"out{k}.parquet") for k in range(2))
    assert one.select("index", "score").equals(two.select("index", "score")) and len(one) == 25


def test_a_store_reads_its_parts_in_one_call_or_part_by_part_alike(tmp_path):
    """`ScoreStore.load` reads every part at once and, when a part is damaged, part by part; both keep the first
    part's row of an index written twice, sort by index, and the second moves the damaged part aside."""
    log = io.StringIO()
    store = ScoreStore(tmp_path / "entry", {"key": 1}, Console(file=log))
    row = {"arch": "a", "seconds": 0.1, "error": None}
    store.append([{"index": 5, "score": 1.0, **row}, {"index": 1, "score": 2.0, **row}])
    store.append([{"index": 1, "score": 9.0, **row}, {"index": 3, "score": 3.0, **row}])
    store.append([{"index": 0, "score": 4.0, **row}])
    whole = store.load()
    assert whole["index"].to_list() == [0, 1, 3, 5] and whole["score"].to_list() == [4.0, 2.0, 3.0, 1.0]
    last = sorted((tmp_path / "entry" / ".scores").glob("part-*.parquet"))[-1]
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    healed = store.load()
    assert healed["index"].to_list() == [1, 3, 5] and healed["score"].to_list() == [2.0, 3.0, 1.0]
    assert f"{last.name}.corrupt" in log.getvalue() and not last.exists()
