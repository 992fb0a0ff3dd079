"""Several proxies in one pass (`proxy=multi`, `proxies.shared.SharedPass`): every proxy's score equals its score
alone, the cache entries a pass fills are those of single-proxy runs, and a grid sweep over proxies runs its trials
from them."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import time
import weakref

import polars as pl
import pytest
import torch
from conftest import REPO, sweep_killed_after
from omegaconf import OmegaConf
from rich.console import Console

from meco_lab.core.config import compose_config
from meco_lab.core.errors import ConfigError
from meco_lab.proxies import PROXIES
from meco_lab.proxies.base import Proxy
from meco_lab.proxies.shared import SharedPass
from meco_lab.scoring.cache import cache_key, cached_members, cached_scores
from meco_lab.scoring.plan import plan_run
from meco_lab.scoring.run import score_run
from meco_lab.scoring.scorer import Scorer
from meco_lab.spaces import SPACES, Candidate

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: one torch thread, as every scoring worker

EVERY = PROXIES.names()
# arch 9894 is all `none` (jacov, zen, ntk and nwot fail or give non-finite scores there), 1462 all nor_conv_3x3
INDICES = (0, 11, 284, 1462, 9894, 14108)
BATCH = ["data=cifar10", "data.samples=4"]


def quiet() -> Console:
    return Console(file=io.StringIO())


def indices_file(tmp_path, indices=INDICES) -> str:
    path = tmp_path / "indices.txt"
    path.write_text("\n".join(map(str, indices)) + "\n")
    return f"space.indices={path}"


def accepts_one_sample(name: str) -> bool:
    try:
        PROXIES.get(name)().check({"samples": 4, "reduce": "mean"})
    except ConfigError:
        return False
    return True


def same(a: dict, b: dict) -> bool:
    """Two rows with equal scores (to float tolerance; in practice bit for bit) and the same error."""
    x, y = a["score"], b["score"]
    return a["index"] == b["index"] and a["error"] == b["error"] and (
        (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9, abs_tol=0.0))


@pytest.mark.parametrize("reduce", ["first", "mean"])
def test_every_proxy_scores_the_same_alone_and_in_one_pass(tmp_path, reduce):
    """One proxy at a time (a single-proxy job each) and all at once (one multi job): equal scores for every proxy
    on every architecture, failures included. `data.reduce=mean` scores each sample in its own pass; the proxies that
    need several samples together refuse it, so that case takes the others."""
    names = [n for n in EVERY if reduce == "first" or accepts_one_sample(n)]
    base = [*BATCH, f"data.reduce={reduce}", indices_file(tmp_path)]
    together = plan_run(compose_config([*base, "proxy=multi", f"proxy.members=[{','.join(names)}]"]))
    rows = [Scorer(together.job).score_members(i) for i in together.indices]
    assert any(r["error"] for arch in rows for r in arch)  # arch 9894 exercises the failures
    for k, name in enumerate(names):
        alone = plan_run(compose_config([*base, f"proxy={name}"]))
        single = Scorer(alone.job).score_many(alone.indices)
        for a, b in zip(single, [arch[k] for arch in rows], strict=True):
            assert same(a, b), (name, a, b)


def test_a_pass_attributes_its_time_to_the_proxies():
    """A proxy's seconds are its own work plus an even share of each shared result it used: they add up to the
    pass's time, and a proxy that reads only the built network (params) costs a fraction of one that takes
    gradients."""
    space = SPACES.get("nats_tss")()
    x = torch.randn(4, 3, 32, 32)
    y = torch.randint(0, 10, (4,))
    proxies = [PROXIES.get(n)() for n in ("params", "snip", "grad_norm", "ntk")]
    ctx = SharedPass(Candidate(space, 1462, 0), x, y)
    start = time.perf_counter()
    results = ctx.run(proxies)
    wall = time.perf_counter() - start
    seconds = [s for _, s in results]
    assert sum(seconds) == pytest.approx(wall, rel=0.05)
    assert seconds[0] < seconds[1] < seconds[3]


class Reads(Proxy):
    """Reads the shared forward's logits (saying so in `prepare` when `says`) and keeps a weak reference to them."""

    name = "reads"

    def __init__(self, says: bool):
        self.says, self.logits = says, None

    def score(self, candidate, x, y=None):
        raise NotImplementedError

    def prepare(self, ctx):
        if self.says:
            ctx.want("forward", "graph")

    def from_shared(self, ctx):
        logits = ctx.forward().logits
        self.logits = weakref.ref(logits)
        return float(logits.detach().sum())


def test_a_pass_drops_each_shared_result_after_its_last_reader():
    """Once the last proxy that said it reads a shared result is done, the pass lets the result go (its graph and
    tensors are freed, so a pass holds what its heaviest proxy needs, not the sum); a proxy reading it later without
    having said so gets an error instead of a silent second computation."""
    space = SPACES.get("nats_tss")()
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    first, late = Reads(says=True), Reads(says=False)
    ctx = SharedPass(Candidate(space, 1462, 0), x, y)
    results = ctx.run([first, PROXIES.get("snip")(), PROXIES.get("params")(), late])
    assert ctx.network() is not None and first.logits() is None  # freed while the pass still holds its network
    assert isinstance(results[1][0], float) and isinstance(results[2][0], float)
    assert isinstance(results[3][0], RuntimeError) and "ctx.want" in str(results[3][0])
    # read before the last reader that said so, the result is there
    early, last = Reads(says=False), Reads(says=True)
    results = SharedPass(Candidate(space, 1462, 0), x, y).run([early, last])
    assert results[0][0] == results[1][0]


def test_a_pass_fills_the_cache_entries_of_single_proxy_runs(tmp_path, monkeypatch):
    """The entries one pass writes have the keys and scores of single-proxy runs: each single-proxy request after it
    is a full cache hit that calls no proxy, with the scores a single-proxy run computes in an empty cache."""
    base = [*BATCH, "space.sample=6", "space.sample_seed=3"]
    names = ["meco", "meco_opt", "snip", "nwot", "params"]
    plan = plan_run(compose_config([*base, "proxy=multi", f"proxy.members=[{','.join(names)}]"]))
    members = cached_members(plan.member_plans(), tmp_path / "shared", quiet(), workers=1, chunk=4)
    assert [m[1] for m in members] == [6] * len(names)  # 6 architectures scored now, per member
    fresh = {n: cached_scores(plan_run(compose_config([*base, f"proxy={n}"])), tmp_path / "alone", quiet())[0]
             for n in names}
    for name in names:
        monkeypatch.setattr(PROXIES.get(name), "score", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
    for name, (scores, _, _) in zip(names, members, strict=True):
        single = plan_run(compose_config([*base, f"proxy={name}"]))
        assert (tmp_path / "shared" / cache_key(single.config)).is_dir()
        hit, passes, _ = cached_scores(single, tmp_path / "shared", quiet())
        assert passes == 0
        assert hit.select("index", "score").equals(fresh[name].select("index", "score")), name
        assert hit.select("index", "score").equals(scores.select("index", "score")), name


def test_a_pass_scores_only_what_each_entry_lacks(tmp_path):
    """Members with different gaps (one fully cached, one half): the pass scores each member's missing
    architectures only, and the result equals a pass from an empty cache."""
    base = [*BATCH, "space.limit=8"]
    root = tmp_path / "cache"
    cached_scores(plan_run(compose_config([*base, "proxy=snip"])), root, quiet())
    cached_scores(plan_run(compose_config([*base, "proxy=meco", "space.limit=4"])), root, quiet())
    plan = plan_run(compose_config([*base, "proxy=multi", "proxy.members=[snip,meco,params]"]))
    got = cached_members(plan.member_plans(), root, quiet(), workers=1, chunk=3)
    assert [m[1] for m in got] == [0, 4, 8]
    clean = cached_members(plan.member_plans(), tmp_path / "clean", quiet(), workers=1, chunk=3)
    for (a, _, _), (b, _, _) in zip(got, clean, strict=True):
        assert a.select("index", "score").equals(b.select("index", "score"))


def test_multi_run_writes_each_member_as_its_own_run(tmp_path, cli):
    """`score proxy=multi`: one folder per member with the outputs of its run, the cache filled; a second run
    scores nothing."""
    args = ["proxy=multi", "proxy.members=[meco,{name:meco_opt,n:4,label:meco_opt4},params]", *BATCH,
            "space.sample=12", f"cache_dir={tmp_path / 'cache'}", "workers=2"]
    first = cli(*args, f"hydra.run.dir={tmp_path / 'run'}")
    assert first.returncode == 0, first.stderr
    for label in ("meco", "meco_opt4", "params"):
        scores = pl.read_parquet(tmp_path / "run" / label / "scores.parquet")
        assert len(scores) == 12 and (tmp_path / "run" / label / "summary.json").is_file()
    again = cli(*args, f"hydra.run.dir={tmp_path / 'again'}")
    assert again.returncode == 0, again.stderr
    assert "scoring" not in again.stderr.split("proxies in one pass")[0].splitlines()[-1]
    assert pl.read_parquet(tmp_path / "again" / "meco_opt4" / "scores.parquet").equals(
        pl.read_parquet(tmp_path / "run" / "meco_opt4" / "scores.parquet"))


def test_grid_sweep_over_proxies_runs_its_trials_from_one_pass(tmp_path, cli):
    """The proxies sweep's points differ only in the proxy: one pass fills every entry before the trials run, each
    trial's row counts the forward passes the pass ran for it, its rho equals a single-proxy scoring run of the same
    config, and a second sweep on the same cache is served from it."""
    sweep = tmp_path / "mini.yaml"
    sweep.write_text("description: mini\nbase: [data=cifar10, data.samples=4, space.sample=12]\n"
                     "params:\n  proxy: [meco, snip, nwot]\nsampler: grid\nseeds: [0]\n")
    out = cli(str(sweep), f"sweep.dir={tmp_path / 'sweep'}", f"sweep.cache_dir={tmp_path / 'cache'}",
              "sweep.tracking=none", "sweep.workers=2", module="meco_lab.sweep")
    assert out.returncode == 0, out.stderr
    assert "one pass: 3 proxies (meco, snip, nwot)" in out.stderr
    trials = pl.read_parquet(tmp_path / "sweep" / "trials.parquet")
    assert not trials["cache_hit"].any() and (trials["forward_passes"] == 12).all()
    assert trials["arch_seconds"].min() > 0 and trials["seconds"].min() > 0
    again = cli(str(sweep), f"sweep.dir={tmp_path / 'again'}", f"sweep.cache_dir={tmp_path / 'cache'}",
                "sweep.tracking=none", module="meco_lab.sweep")
    assert again.returncode == 0, again.stderr
    second = pl.read_parquet(tmp_path / "again" / "trials.parquet")
    assert second["cache_hit"].all() and second["forward_passes"].sum() == 0
    for row in trials.iter_rows(named=True):
        config = OmegaConf.create(compose_config(["data=cifar10", "data.samples=4", "space.sample=12",
                                                  f"proxy={row['proxy']}"]))
        summary = score_run(config, tmp_path / f"run-{row['proxy']}", quiet())
        assert summary["spearman"]["cifar10"] == pytest.approx(row["spearman_cifar10"], abs=1e-12)


def test_a_killed_one_pass_resumes_from_its_parts(tmp_path):
    """A sweep killed inside its one pass, once some parts exist, scores only what each entry lacks on resume;
    each trial counts the forward passes the sweep's pass scored for it, before the kill and after."""
    spec = tmp_path / "mini.yaml"
    spec.write_text(json.dumps({"base": ["space.limit=600", "chunk=10", "data=cifar10", "data.samples=2"],
                                "params": {"proxy": ["meco", "params", "nwot"]}, "seeds": [0]}))
    args = [str(spec), f"sweep.dir={tmp_path / 'dir'}", f"sweep.cache_dir={tmp_path / 'cache'}", "sweep.tracking=none"]
    sweep_killed_after(args, tmp_path / "cache", 6)
    written = {}
    for entry in (tmp_path / "cache").iterdir():
        name = json.loads((entry / ".scores" / "fingerprint.json").read_text())["proxy"]["name"]
        parts = list(entry.glob(".scores/part-*.parquet"))
        written[name] = len(pl.concat([pl.read_parquet(p) for p in parts])) if parts else 0
    assert 0 < sum(written.values()) < 1800

    done = subprocess.run([sys.executable, "-m", "meco_lab.sweep", *args], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = {r["proxy"]: r for r in pl.read_parquet(tmp_path / "dir" / "trials.parquet").iter_rows(named=True)}
    for name in ("meco", "params", "nwot"):
        assert rows[name]["n_archs"] == 600 and rows[name]["forward_passes"] == 600 and not rows[name]["cache_hit"]
    for entry in (tmp_path / "cache").iterdir():
        parts = pl.concat([pl.read_parquet(p) for p in entry.glob(".scores/part-*.parquet")])
        assert len(parts) == 600 and parts["index"].is_unique().all()


def test_sweep_without_one_pass_scores_trial_by_trial(tmp_path, cli):
    sweep = tmp_path / "mini.yaml"
    sweep.write_text("description: mini\nbase: [space.sample=6]\nparams:\n  proxy: [meco, params]\nsampler: grid\n"
                     "seeds: [0]\n")
    out = cli(str(sweep), f"sweep.dir={tmp_path / 'sweep'}", f"sweep.cache_dir={tmp_path / 'cache'}",
              "sweep.tracking=none", "sweep.one_pass=false", module="meco_lab.sweep")
    assert out.returncode == 0, out.stderr
    assert "one pass" not in out.stderr
    assert not pl.read_parquet(tmp_path / "sweep" / "trials.parquet")["cache_hit"].any()


@pytest.mark.parametrize(("args", "key", "allowed"), [
    (["proxy=multi", "proxy.members=[]"], "proxy.members", "a non-empty list of members"),
    (["proxy=multi", "proxy.members=[meco,mecco]"], "proxy.members[1]", "one of fisher"),
    (["proxy=multi", "proxy.members=[meco,{name:meco_opt,m:3}]"], "proxy.members[1].m", "an option of proxy meco_opt"),
    (["proxy=multi", "proxy.members=[meco,{name:meco,hooks:leaves}]"], "proxy.members", "distinct labels"),
    (["proxy=multi", "proxy.members=[meco,{name:meco,label:again}]"], "proxy.members[1]", "distinct settings"),
    (["proxy=multi", "proxy.members=[meco,ensemble]"], "proxy.members[1]", "not a composite one"),
    (["proxy=multi", "proxy.members=[meco,nwot]", "data.samples=1"], "data.samples", "for proxy nwot"),
    (["proxy=ensemble", "proxy.members=[meco,snip]", "+proxy.weights.zico=1"], "proxy.weights.zico", "a weight of"),
    (["proxy=ensemble", "proxy.members=[meco,snip]", "+proxy.weights.snip=-1"], "proxy.weights.snip", ">= 0"),
    (["proxy=ensemble", "proxy.members=[meco,snip]", "proxy.combine=mean"], "proxy.combine", "logrank"),
])
def test_bad_members_fail_in_one_line_before_work(tmp_path, cli, args, key, allowed):
    out = cli(*args, "space.limit=4", f"hydra.run.dir={tmp_path / 'run'}", f"cache_dir={tmp_path / 'cache'}")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}=") and allowed in lines[0], lines
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize(("space", "indices"), [("tnb101_micro", (0, 1, 2)), ("tnb101_macro", (0, 16))])
def test_probe_proxies_share_the_probes_on_a_benchmark_with_a_network_per_task(tmp_path, space, indices):
    """On TransNAS (one network per task), MeCo and MeCo_opt in one job score from one probe forward per
    architecture, each task's score equal to that proxy's job alone, and a task that fails fails alike (macro
    skeleton 16: jigsaw's tiles reach 1 x 1, where train-mode batch-norm of one sample is undefined)."""
    base = [f"space={space}", indices_file(tmp_path, indices), "benchmark.tasks=[class_scene,jigsaw,autoencoder]"]
    together = plan_run(compose_config([*base, "proxy=multi", "proxy.members=[meco,meco_opt]"]))
    rows = [Scorer(together.job).score_members(i) for i in together.indices]
    columns = ["score_class_scene", "score_jigsaw", "score_autoencoder"]
    for k, name in enumerate(["meco", "meco_opt"]):
        alone = plan_run(compose_config([*base, f"proxy={name}"]))
        for a, b in zip(Scorer(alone.job).score_many(alone.indices), [arch[k] for arch in rows], strict=True):
            assert (a["index"], a["error"]) == (b["index"], b["error"])
            assert [a[c] for c in columns] == pytest.approx([b[c] for c in columns], rel=1e-12, nan_ok=True), name
    assert rows[0][0]["score_class_scene"] != rows[0][1]["score_class_scene"]
    if space == "tnb101_macro":
        assert all("jigsaw: ValueError" in row["error"] for row in rows[1])
