"""TransNAS-Bench-101 as a benchmark: the spaces' seeded networks, per-task scoring with the encoder shared between
tasks (equal to the straightforward per-task computation), the built-in truth, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch
from conftest import REPO

from meco_lab.benchmarks import get_benchmark
from meco_lab.core.config import compose_config
from meco_lab.core.errors import ConfigError
from meco_lab.core.resources import resource_path
from meco_lab.proxies import PROXIES
from meco_lab.proxies.base import Proxy
from meco_lab.scoring.plan import plan_run
from meco_lab.scoring.scorer import Scorer
from meco_lab.spaces import SPACES, Candidate

pytestmark = pytest.mark.usefixtures("one_thread")

MICRO, MACRO = SPACES.get("tnb101_micro")(), SPACES.get("tnb101_macro")()
TASKS = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal", "autoencoder")


def inputs(tasks=TASKS, samples: int = 1) -> dict[str, tuple[torch.Tensor, torch.Tensor | None, int]]:
    plan = plan_run(compose_config(["space=tnb101_micro", "space.limit=1", f"benchmark.tasks=[{','.join(tasks)}]",
                                    f"data.samples={samples}"]))
    return {t.name: (t.x, t.y, t.classes) for t in plan.job.tasks}


def test_spaces_follow_the_truth_tables():
    for space, kind, n in ((MICRO, "micro", 4096), (MACRO, "macro", 3256)):
        table = pl.read_parquet(resource_path(f"tnb101_{kind}.parquet"))
        assert len(space) == n and table["naslib_idx"].to_list() == list(range(n))
        assert [space.arch(i) for i in (0, 1, n - 1)] == table["arch"].gather([0, 1, n - 1]).to_list()


@pytest.mark.parametrize(("space", "index"), [(MICRO, 0), (MICRO, 1234), (MACRO, 7), (MACRO, 3000)])
def test_task_networks_have_the_benchmarks_parameter_counts(space, index):
    """A task's seeded network (encoder + head, as scored) has exactly NASLib's parameter count for that task."""
    table = pl.read_parquet(resource_path(f"tnb101_{space.kind}.parquet")).row(index, named=True)
    for task in TASKS:
        if table[f"params_{task}"] is None:  # the suite measured a subset of (arch, task) pairs
            continue
        net = space.for_task(task).network(index, 0, 0)
        assert sum(p.numel() for p in net.parameters()) == table[f"params_{task}"], task


def test_weights_are_seeded_and_the_head_depends_on_its_shape_only():
    a, b = MICRO.for_task("class_scene").network(5, 0, 0), MICRO.for_task("class_scene").network(5, 0, 0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    other = MICRO.for_task("class_scene").network(6, 0, 0)
    assert not torch.equal(a.encoder.stem[0].weight, other.encoder.stem[0].weight)  # the encoder: per architecture
    assert torch.equal(a.decoder.fc.weight, other.decoder.fc.weight)  # the head: per task and shape
    reseeded = MICRO.for_task("class_scene").network(5, 0, 1)
    assert not torch.equal(a.decoder.fc.weight, reseeded.decoder.fc.weight)
    # the benchmark's encoder init: Kaiming-normal (fan-out) convolutions
    w = a.encoder.stem[0].weight.detach()
    assert abs(float(w.std()) - (2 / (w.shape[0] * w.shape[2] * w.shape[3])) ** 0.5) < 0.02


@pytest.mark.parametrize("proxy", ["meco", "meco_opt"])
@pytest.mark.parametrize(("space", "index"), [(MICRO, 321), (MACRO, 11)])
def test_shared_encoder_equals_the_per_task_computation(proxy, space, index):
    """Score once, use 7 times: the encoder run once per distinct input gives each task's straightforward score."""
    p = PROXIES.get(proxy)()
    given = inputs()
    shared = p.score_tasks(space, index, 0, given)
    separate = Proxy.score_tasks(p, space, index, 0, given)  # each task's TaskNetwork, scored on its own
    assert shared.keys() == separate.keys() == set(TASKS)
    for task in TASKS:
        assert shared[task] == pytest.approx(separate[task], rel=1e-9, abs=1e-12), task
    assert len({round(v, 6) for v in shared.values()}) >= 5  # the heads make the tasks' scores differ


def test_baselines_use_each_tasks_loss_and_targets():
    """snip's gradient comes from the task's loss on targets of the task's shape (L1 on 3 x 256 x 256 images for
    normal, MSE on 9 values for room_layout, cross-entropy on classes)."""
    given = inputs(("room_layout", "normal", "class_object"), samples=2)
    assert given["room_layout"][1].shape == (2, 9) and given["normal"][1].shape == (2, 3, 256, 256)
    assert given["class_object"][1].dtype == torch.int64 and int(given["class_object"][1].max()) < 100
    scores = PROXIES.get("snip")().score_tasks(MICRO, 3, 0, given)
    assert all(np.isfinite(v) and v > 0 for v in scores.values()) and len(set(scores.values())) == 3
    room = MICRO.for_task("room_layout")
    out, target = torch.zeros(2, 9), torch.ones(2, 9)
    assert float(Candidate(room, 3, 0).loss(out, target)) == 1.0  # MSE
    assert float(Candidate(MICRO.for_task("normal"), 3, 0).loss(torch.zeros(1, 3), torch.full((1, 3), 0.5))) == 0.5


@pytest.mark.parametrize(("overrides", "line"), [
    (["proxy=ntk"], "proxy='ntk' is not allowed: expected a proxy that applies to task room_layout (regression; ntk "
                    "takes classification tasks), or benchmark.tasks without it"),
    (["data=cifar10"], "data='cifar10' is not allowed: expected random for tnb101_micro (Taskonomy images are not "
                       "available here; the inputs are Gaussian at each task's input shape)"),
    (["benchmark.tasks=[depth]"], "benchmark.tasks=['depth'] is not allowed: expected null or a list of distinct tasks "
                                  "of tnb101_micro: class_scene, class_object, jigsaw, room_layout, segmentsemantic, "
                                  "normal, autoencoder"),
    (["truth=nats_bench"], "truth.name='nats_bench' is not allowed: expected one of table"),
])
def test_refusals_are_one_line_before_any_work(overrides, line):
    with pytest.raises(ConfigError) as info:
        plan_run(compose_config(["space=tnb101_micro", "space.limit=2", *overrides]))
    assert str(info.value) == line


def test_cli_scores_every_task_in_its_own_column(cli, tmp_path):
    done = cli("space=tnb101_micro", "space.limit=5", "benchmark.tasks=[class_scene,room_layout,jigsaw]",
               f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    scores = pl.read_parquet(tmp_path / "scores.parquet")
    assert scores.columns == ["index", "arch", "score_class_scene", "score_jigsaw", "score_room_layout", "seconds",
                              "error"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["spearman"]) == ["class_scene", "jigsaw", "room_layout"]
    truth = get_benchmark("tnb101_micro").load_truth({"name": "table"}, None)
    from scipy.stats import spearmanr

    for task in summary["spearman"]:
        rho = spearmanr(scores[f"score_{task}"].to_numpy(), truth.values[task][:5]).statistic
        assert summary["spearman"][task] == pytest.approx(rho, abs=1e-12)
    row = Scorer(plan_run(compose_config(["space=tnb101_micro", "space.limit=5",
                                          "benchmark.tasks=[class_scene,room_layout,jigsaw]"])).job).score(3)
    assert row["score_room_layout"] == scores["score_room_layout"][3]  # the CLI's row is the scorer's, bit for bit
    assert (REPO / "conf" / "space" / "tnb101_macro.yaml").is_file()


def test_a_failing_task_is_recorded_and_the_other_tasks_are_scored():
    """Macro #3 (64-433132-basic) has four stride-2 stages: a 64 x 64 jigsaw tile reaches 1 x 1, where train-mode
    batch-norm of one sample is undefined. Jigsaw gets NaN and its error; class_scene is still scored."""
    plan = plan_run(compose_config(["space=tnb101_macro", "space.limit=1", "benchmark.tasks=[class_scene,jigsaw]"]))
    row = Scorer(plan.job).score(3)
    assert row["arch"] == "64-433132-basic" and np.isfinite(row["score_class_scene"])
    assert np.isnan(row["score_jigsaw"]) and row["error"] == (
        "jigsaw: ValueError: Expected more than 1 value per channel when training, got input size "
        "torch.Size([1, 128, 1, 1])")
    two = plan_run(compose_config(["space=tnb101_macro", "space.limit=1", "benchmark.tasks=[jigsaw]",
                                   "data.samples=2"]))
    assert np.isfinite(Scorer(two.job).score(3)["score_jigsaw"])  # batch-norm over two samples: defined
