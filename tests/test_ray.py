"""`executor=ray` and `sweep.executor=ray` on a real Ray cluster of this machine (tests/ray_cluster.py): a head and a
worker node, each its own processes on 127.0.0.1, with token authentication.

Checked: scores bit-identical to `executor=local`, from tasks on both nodes (one proxy, and proxies in one pass);
a worker process and then a whole node killed mid-run, with the run completing and no architecture lost or scored
twice; a killed driver that resumes from its parts while Ray ends its orphaned tasks; a sweep with two trials in
flight on two nodes, and its one pass on both; a driver without the cluster's token refused in one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import polars as pl
import pytest
from conftest import REPO
from ray_cluster import RayCluster, descendants, listening, task_processes

CHUNKS = ["space.limit=1500", "chunk=10"]  # 150 parts: several seconds of scoring, so kills land midway


@pytest.fixture(scope="module")
def cluster():
    started = RayCluster(nodes=2, cpus=1)
    yield started
    started.close()


def cli(cluster: RayCluster | None, *args: str, module: str = "meco_lab.score", env: dict | None = None,
        **popen) -> subprocess.Popen:
    """`python -m module args...` as a driver of `cluster` (its address, token and loopback settings)."""
    base = cluster.env if cluster is not None else os.environ
    env = {**base, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, env=env, text=True,
                            start_new_session=True, **popen)


def finished(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


@pytest.fixture(scope="module")
def local_scores(tmp_path_factory):
    """`executor=local` scores of the first 1,500 architectures: what every Ray run must reproduce exactly."""
    run_dir = tmp_path_factory.mktemp("local")
    code, err = finished(cli(None, *CHUNKS, "workers=2", f"hydra.run.dir={run_dir}", stderr=subprocess.PIPE))
    assert code == 0, err
    return pl.read_parquet(run_dir / "scores.parquet")


def assert_same_scores(run_dir: Path, local: pl.DataFrame) -> pl.DataFrame:
    """The run's scores.parquet equals the local scores of its architectures, column for column (but time)."""
    ours = pl.read_parquet(run_dir / "scores.parquet")
    theirs = local.filter(pl.col("index").is_in(ours["index"].to_list()))
    assert ours["index"].to_list() == theirs["index"].to_list()
    assert ours["arch"].to_list() == theirs["arch"].to_list() and ours["error"].to_list() == theirs["error"].to_list()
    assert np.array_equal(ours["score"].to_numpy(), theirs["score"].to_numpy(), equal_nan=True)  # bit for bit
    return ours


def parts(run_dir: Path) -> list[Path]:
    return sorted((run_dir / ".scores").glob("part-*.parquet"))


def wait_until(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.time() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)


def kill_one(pids: list[int]) -> bool:
    """SIGKILL the first of `pids` still alive; whether one was killed."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            return True
        except ProcessLookupError:
            continue
    return False


def test_ray_scores_equal_local_on_two_nodes(cluster, local_scores, tmp_path):
    """`executor=ray executor.address=auto workers=2` gives the local scores.parquet, from chunks on both nodes."""
    indices = tmp_path / "indices.txt"
    indices.write_text("\n".join(str(i) for i in range(0, 1500, 5)))  # 300 architectures across the 1,500
    code, err = finished(cli(cluster, "executor=ray", "executor.address=auto", "workers=2", "chunk=25",
                             f"space.indices={indices}", f"hydra.run.dir={tmp_path / 'run'}", stderr=subprocess.PIPE))
    assert code == 0, err
    assert "ray: 12 chunks scored on 2 node(s)" in err, err
    assert len(assert_same_scores(tmp_path / "run", local_scores)) == 300
    assert len(parts(tmp_path / "run")) == 12
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_archs"] == 300 and summary["config"]["executor"]["name"] == "ray"


def test_ray_client_address_scores_like_local(cluster, local_scores, tmp_path):
    """`executor.address=ray://...`: the driver reaches the cluster through Ray Client, with the same scores."""
    code, err = finished(cli(cluster, "executor=ray", f"executor.address={cluster.client_address}", "workers=2",
                             "space.limit=200", "chunk=20", f"hydra.run.dir={tmp_path}", stderr=subprocess.PIPE))
    assert code == 0, err + cluster.logs("ray_client_server*.err")
    assert "ray: 10 chunks scored on 2 node(s)" in err, err
    assert len(assert_same_scores(tmp_path, local_scores)) == 200


def test_proxies_in_one_pass_score_on_the_cluster(cluster, local_scores, tmp_path):
    """`proxy=multi executor=ray`: the one pass's chunks run as Ray tasks on both nodes, and its meco member's
    scores equal meco's local run bit for bit."""
    code, err = finished(cli(cluster, "executor=ray", "workers=2", "proxy=multi", "proxy.members=[meco,synflow]",
                             "space.limit=60", "chunk=10", f"cache_dir={tmp_path / 'cache'}",
                             f"hydra.run.dir={tmp_path / 'run'}", stderr=subprocess.PIPE))
    assert code == 0, err
    assert "ray: 8 chunks scored on 2 node(s)" in err, err  # chunks of 8: a quarter of a worker's share
    assert len(assert_same_scores(tmp_path / "run" / "meco", local_scores)) == 60
    assert len(pl.read_parquet(tmp_path / "run" / "synflow" / "scores.parquet").drop_nans("score")) == 60


def test_dead_worker_process_and_dead_node_lose_nothing(cluster, local_scores, tmp_path):
    """A worker process killed in a task, then a whole node killed with tasks in flight: Ray reruns their chunks
    elsewhere, and the run ends with every architecture scored exactly once, as locally."""
    doomed = cluster.add_node()
    run_dir = tmp_path / "run"
    proc = cli(cluster, "executor=ray", "workers=3", *CHUNKS, f"hydra.run.dir={run_dir}", stderr=subprocess.PIPE)
    try:
        head = cluster.nodes[0]
        # a worker process dies: one found scoring a chunk on the head (a chunk can end between finding and
        # killing it; then the next one is taken)
        wait_until(lambda: len(parts(run_dir)) >= 2 and kill_one(task_processes(head["raylet_pid"], "score_chunk")),
                   proc, "a task on the head")
        wait_until(lambda: task_processes(doomed["raylet_pid"], "score_chunk"), proc, "a task on the third node")
        before = len(parts(run_dir))
        cluster.kill_node(doomed)  # its machine dies, with a chunk in flight
        code, err = finished(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 0, err
    assert before < 140, "the kills must land midway"
    assert "ray: 150 chunks scored on" in err, err
    assert len(parts(run_dir)) == 150
    written = pl.concat([pl.read_parquet(p) for p in parts(run_dir)])
    assert len(written) == 1500 and written["index"].is_unique().all()  # nothing lost, nothing twice
    assert len(assert_same_scores(run_dir, local_scores)) == 1500


def test_killed_driver_resumes_from_its_parts(cluster, local_scores, tmp_path):
    """SIGKILL of the driver mid-run: Ray ends its tasks on the nodes, and the same command resumes from the parts."""
    args = ["executor=ray", "workers=2", "space.limit=1000", "chunk=10", f"hydra.run.dir={tmp_path}"]
    proc = cli(cluster, *args, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(parts(tmp_path)) >= 2, proc, "two parts")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    written = len(pl.concat([pl.read_parquet(p) for p in parts(tmp_path)]))
    assert 20 <= written < 1000, "the driver must be killed midway"
    raylets = [n["raylet_pid"] for n in cluster.nodes]
    deadline = time.time() + 60
    while any(task_processes(pid, "score_chunk") for pid in raylets):  # the dead driver's tasks are ended
        assert time.time() < deadline, "tasks of the killed driver still run"
        time.sleep(0.2)

    code, err = finished(cli(cluster, *args, stderr=subprocess.PIPE))
    assert code == 0, err
    assert f"resuming: {written} of 1000 architectures already scored" in err, err
    every = pl.concat([pl.read_parquet(p) for p in parts(tmp_path)])
    assert len(every) == 1000 and every["index"].is_unique().all()
    assert_same_scores(tmp_path, local_scores)


def test_sweep_runs_two_trials_at_once_on_the_cluster(cluster, tmp_path):
    """`sweep.executor=ray sweep.workers=2`: trials run two at a time on both nodes (trial by trial here,
    `sweep.one_pass=false`, so each trial scores on its node), and the one pass of a grid runs as Ray tasks on both
    nodes too; both trials tables equal that of a local sweep. Only the driver opens the study (SQLite in the sweep
    dir here; PostgreSQL works the same)."""
    spec = tmp_path / "ray-grid.yaml"
    spec.write_text(json.dumps({"base": ["proxy=meco_opt", "space.sample=40"], "params": {"proxy.n": [2, 4, 8, 16]},
                                "seeds": [0, 1]}))
    common = [str(spec), "sweep.tracking=none"]
    on_ray = [*common, "sweep.executor=ray", f"sweep.address={cluster.address}", "sweep.workers=2"]
    code, err = finished(cli(cluster, *on_ray, "sweep.one_pass=false", f"sweep.dir={tmp_path / 'ray'}",
                             f"sweep.cache_dir={tmp_path / 'cache'}", module="meco_lab.sweep", stderr=subprocess.PIPE))
    assert code == 0, err
    assert "one pass" not in err, err
    storage = f"sqlite:///{tmp_path / 'ray' / 'optuna.db'}"
    trials = [t for t in optuna.load_study(study_name="ray-grid", storage=storage).trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["proxy.n"] for t in trials) == [2, 4, 8, 16]
    where = [t.user_attrs["ray"] for t in trials]
    assert len({w["node"] for w in where}) == 2
    assert any(a["started"] < b["ended"] and b["started"] < a["ended"] for a in where for b in where if a is not b)

    # the one pass (the default): each seed's four proxies scored together, its chunks as Ray tasks on both nodes
    code, err = finished(cli(cluster, *on_ray, f"sweep.dir={tmp_path / 'ray-pass'}",
                             f"sweep.cache_dir={tmp_path / 'cache-pass'}", module="meco_lab.sweep",
                             stderr=subprocess.PIPE))
    assert code == 0, err
    for k in (1, 2):
        assert f"one pass {k}/2: 4 proxies (meco_opt, meco_opt, meco_opt, meco_opt) on 40 architectures" in err, err
    assert err.count("chunks scored on 2 node(s)") == 2, err  # run_scoring_ray's line, once per pass

    code, err = finished(cli(None, *common, f"sweep.dir={tmp_path / 'local'}", f"sweep.cache_dir={tmp_path / 'c'}",
                             module="meco_lab.sweep", stderr=subprocess.PIPE))  # the same sweep, local
    assert code == 0, err
    local_table = pl.read_parquet(tmp_path / "local" / "trials.parquet").sort("proxy.n", "seed")
    for run in ("ray", "ray-pass"):
        ray_table = pl.read_parquet(tmp_path / run / "trials.parquet").sort("proxy.n", "seed")
        for column in ("spearman_cifar10", "kendall_cifar100", "top10_mean_accuracy_ImageNet16-120", "n_archs",
                       "forward_passes"):
            assert ray_table[column].to_list() == local_table[column].to_list(), (run, column)


def test_a_driver_without_the_token_is_refused_in_one_line(cluster, tmp_path):
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64}  # a wrong token (RAY_AUTH_TOKEN wins over the path)
    code, err = finished(cli(cluster, "executor=ray", "executor.address=auto", "space.limit=20",
                             f"hydra.run.dir={tmp_path}", env=env, stderr=subprocess.PIPE))
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: executor.address='auto' is not allowed: expected a running Ray "
                                         "cluster that accepts this process's token"), err
    assert not parts(tmp_path)


def test_the_cluster_listens_on_loopback_only(cluster):
    """Every listening socket of the cluster's processes (GCS, raylets, agents, workers) is on 127.0.0.1."""
    pids = {cluster.proc.pid, *descendants(cluster.proc.pid)}
    addresses = listening(pids)
    assert len(addresses) >= 4 and all(a.startswith("127.0.0.1:") for a in addresses), addresses


def test_a_node_with_other_code_is_refused_and_lost_tasks_are_told_apart():
    """A node whose meco_lab or torch differs from the driver's refuses the task, which the driver reports in one
    line; a worker or node that died is 'lost' (redone), an error in the task's own code is not."""
    from ray.exceptions import NodeDiedError, RayTaskError, WorkerCrashedError

    from meco_lab.core.errors import ConfigError
    from meco_lab.scoring.ray_executor import NodeMismatch, check_node, code_version, lost, task_failure

    check_node(code_version())
    with pytest.raises(NodeMismatch) as refused:
        check_node("0" * 16)
    error = task_failure(refused.value, "executor.address", "auto")
    assert isinstance(error, ConfigError) and str(error).startswith(
        "executor.address='auto' is not allowed: expected a cluster whose nodes all run this driver's meco_lab")
    assert lost(WorkerCrashedError()) and lost(NodeDiedError("node gone"))
    assert not lost(RayTaskError("score_chunk", "Traceback ...", ValueError("bad"))) and not lost(ValueError())


# what Ray Client's `init` raises when the head's per-client server did not start: the proxier's own error, and an
# exception inside its `start_specific_server` (the traceback comes back as the message; both seen in CI runs; the
# CI log cut the second after its outer frame, so its inner frame and exception here are a stand-in)
SERVER_FAILURES = [
    "Initialization failure from server:\nTraceback (most recent call last):\n  File \"proxier.py\", line 772, in "
    "Datapath\n    raise RuntimeError(\nRuntimeError: Starting Ray client server failed. See "
    "ray_client_server_23000.err for detailed logs.",
    "Initialization failure from server:\nTraceback (most recent call last):\n  File \"proxier.py\", line 765, in "
    "Datapath\n    if not self.proxy_manager.start_specific_server(\n  File \"proxier.py\", line 396, in "
    "start_specific_server\n    cmd = psutil_proc.cmdline()\npsutil.ZombieProcess: process still exists but it's a "
    "zombie (pid=12850)",
]


@pytest.mark.parametrize("message", SERVER_FAILURES, ids=["its-error", "inside-it"])
@pytest.mark.parametrize("failures", [1, 2, 3])
def test_a_ray_client_server_that_fails_to_start_is_asked_again(monkeypatch, capsys, failures, message):
    """Ray Client's head starts a server per client, which can fail to start under load (seen in full-suite runs).
    The driver asks again, up to CLIENT_TRIES times, on exactly that error; after the last try the failure is one
    ConfigError line on the key. Ray's `init` is made to fail `failures` times with Ray's own message."""
    import ray

    from meco_lab.core.errors import ConfigError
    from meco_lab.scoring import ray_executor

    calls, waits = [], []

    def init(**kwargs):
        calls.append(kwargs["address"])
        if len(calls) <= failures:
            raise ConnectionAbortedError(message)

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray_executor.time, "sleep", waits.append)
    address = "ray://127.0.0.1:1"
    if failures < ray_executor.CLIENT_TRIES:
        assert ray_executor.connect(address, "executor.address") is ray
        assert calls == [address] * (failures + 1) and waits == [2.0 * (k + 1) for k in range(failures)]
        said = capsys.readouterr().err.splitlines()
        assert said == [f"ray: the head did not start a Ray Client server for this driver; asking again ({k + 2}/3)"
                        for k in range(failures)]
    else:
        with pytest.raises(ConfigError) as error:
            ray_executor.connect(address, "executor.address")
        assert str(error.value).startswith(f"executor.address={address!r} is not allowed: expected a running Ray")
        assert "Initialization failure from server: Traceback" in str(error.value)
        assert "\n" not in str(error.value)  # one line
        assert len(calls) == ray_executor.CLIENT_TRIES


def test_other_ray_client_failures_are_not_asked_again(monkeypatch):
    """Any other failure of Ray Client's `init` (no server there, a refused token) is one ConfigError line at once."""
    import ray

    from meco_lab.core.errors import ConfigError
    from meco_lab.scoring import ray_executor

    calls = []

    def init(**kwargs):
        calls.append(kwargs["address"])
        raise ConnectionError("ray client connection timeout")

    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(ConfigError, match="ray client connection timeout"):
        ray_executor.connect("ray://127.0.0.1:1", "executor.address")
    assert len(calls) == 1
