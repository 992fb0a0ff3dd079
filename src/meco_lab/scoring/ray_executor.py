"""Score chunks of architectures as Ray tasks on a Ray cluster (`executor=ray`); the driver writes every part.

Each task scores one chunk with a `Scorer` cached in its worker process and returns the chunk's rows, exactly what
`Scorer.score_many` gives. The driver (this process) hands them to `on_rows`, which writes the same atomic part as a
local run, so resume, the fingerprint check and the output contract are unchanged, and no node needs the run dir.
A score depends only on (config, seed, index), so the scores equal those of `executor=local` bit for bit on CPU.

Faults: Ray re-runs a task whose worker process or node died (`max_retries`), and the driver resubmits a chunk whose
task was lost beyond that as often again, so a dead node costs only its chunks in flight; a chunk's rows are
written once, when its task returns. A killed driver resumes from its parts like any run (Ray ends the tasks of a
driver that died). Results only come back from the tasks this driver submitted.

Ray is imported only inside these functions, so the package works without the `ray` extra.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from meco_lab.core.errors import ConfigError
from meco_lab.scoring.parallel import chunks
from meco_lab.scoring.scorer import Scorer, ScoringJob

PACKAGE = Path(__file__).resolve().parents[1]
_SCORER: tuple[str, Scorer] | None = None  # (job key, scorer) of this worker process


class NodeMismatch(Exception):
    """A node runs other meco_lab code or another torch than the driver, so its scores could differ."""


@functools.cache
def code_version() -> str:
    """A digest of this meco_lab's code and configs and of the torch version: what a score depends on besides its
    settings. Every node must run the driver's, or the scores of a cluster run could differ from a local run's."""
    import torch

    digest = hashlib.sha256(torch.__version__.encode())
    files = [Path(folder, name) for folder, _, names in os.walk(PACKAGE, followlinks=True)  # _conf, _sweeps: links
             for name in names if name.endswith((".py", ".yaml"))]
    for path in sorted(files):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def check_node(expected: str) -> None:
    """Refuse to work on a node whose code differs from the driver's (runs in the task, on the node)."""
    if code_version() != expected:
        import ray

        raise NodeMismatch(f"node {ray.util.get_node_ip_address()} runs meco_lab/torch {code_version()}, "
                           f"the driver {expected}")


def node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


CLIENT_TRIES = 3
# Ray Client's head starts a server per client; on a loaded head that start can fail once and succeed on a retry.
# Ray's proxier reports it in the client's "Initialization failure from server" error, as its own message, or as
# the traceback of an exception raised inside `start_specific_server` (seen in CI on a loaded machine)
CLIENT_SERVER_FAILED = ("Starting Ray client server failed", "in start_specific_server")


def connect(address: str, key: str) -> Any:
    """Join the Ray cluster at `address` as a driver (once per process; inside a Ray task the cluster is already
    joined) and return the `ray` module. A cluster that cannot be reached, or refuses this process's token, is a
    one-line ConfigError on `key`."""
    import ray

    if ray.is_initialized():
        return ray
    for attempt in range(CLIENT_TRIES):
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            return ray
        except Exception as error:  # no cluster there, a refused token, no Ray Client: Ray raises several kinds
            ray.shutdown()
            if any(m in str(error) for m in CLIENT_SERVER_FAILED) and attempt + 1 < CLIENT_TRIES:
                print(f"ray: the head did not start a Ray Client server for this driver; asking again "
                      f"({attempt + 2}/{CLIENT_TRIES})", file=sys.stderr)
                time.sleep(2.0 * (attempt + 1))  # the head's per-client server did not start: ask for another
                continue
            cause = str(error.__cause__ or "").strip().splitlines()  # Ray's own last line says why (a refused token)
            reason = " ".join(": ".join([str(error) or type(error).__name__, *cause[-1:]]).split())[:300]
            raise ConfigError(key, address, f"a running Ray cluster that accepts this process's token "
                              f"(RAY_AUTH_MODE, RAY_AUTH_TOKEN_PATH; docs/cluster.md): {reason}") from None
    raise AssertionError("unreachable")


def lost(error: BaseException) -> bool:
    """Whether a task's failure means its worker, node or result was lost (so the work is redone), rather than an
    error of the work itself."""
    from ray.exceptions import RayError, RayTaskError, TaskCancelledError

    return isinstance(error, RayError) and not isinstance(error, (RayTaskError, TaskCancelledError))


def task_failure(error: BaseException, key: str, address: str) -> Exception:
    """The exception to raise for a task that failed in its own code: a node with other code, or a ConfigError, as
    one line; anything else with the task's traceback."""
    from ray.exceptions import RayTaskError

    cause = error.cause if isinstance(error, RayTaskError) else error
    if isinstance(cause, NodeMismatch):
        return ConfigError(key, address, f"a cluster whose nodes all run this driver's meco_lab and torch ({cause})")
    if isinstance(cause, ConfigError):
        return ConfigError(cause.key, cause.value, cause.allowed)
    return error


def score_chunk(job_key: str, job_ref: list[Any], indices: list[int], code: str) -> tuple[str, list[dict[str, Any]]]:
    """A Ray task: this node's id and the rows of `indices`, scored by this worker process's scorer of the job.

    The job comes as an object reference inside a list, so Ray does not fetch it for every chunk: a worker fetches
    it once and builds its scorer, which later chunks of the same job reuse.
    """
    global _SCORER
    check_node(code)
    if _SCORER is None or _SCORER[0] != job_key:
        import ray

        _SCORER = (job_key, Scorer(ray.get(job_ref[0])))
    return node_id(), _SCORER[1].score_many(indices)


def run_scoring_ray(job: ScoringJob, indices: Sequence[int], workers: int, chunk: int,
                    on_rows: Callable[[list[dict[str, Any]]], None], on_progress: Callable[[int], None],
                    settings: dict[str, Any]) -> None:
    """Score `indices` as Ray tasks of `chunk` architectures, `workers` of them in flight, handing each finished
    chunk's rows to `on_rows` as soon as it is back (the contract of `parallel.run_scoring`)."""
    address = settings["address"]
    ray = connect(address, "executor.address")
    task = ray.remote(score_chunk).options(name="score_chunk", num_cpus=settings["num_cpus"],
                                           num_gpus=settings["num_gpus"], max_retries=settings["max_retries"],
                                           retry_exceptions=False)
    job_ref, job_key, code = ray.put(job), uuid.uuid4().hex, code_version()
    todo = chunks(indices, chunk)
    pending: dict[Any, tuple[list[int], int]] = {}  # task -> (its chunk, resubmissions so far)
    nodes: Counter[str] = Counter()
    resubmitted = 0

    def submit(part: list[int] | None, tries: int = 0) -> None:
        if part is not None:
            pending[task.remote(job_key, [job_ref], part, code)] = (part, tries)

    try:
        for _ in range(workers):
            submit(next(todo, None))
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            part, tries = pending.pop(ref)
            try:
                node, rows = ray.get(ref)
            except Exception as error:
                if not lost(error):
                    raise task_failure(error, "executor.address", address) from error
                if tries >= settings["max_retries"]:
                    raise RuntimeError(f"chunk {part[0]}..{part[-1]} was lost {tries + 1} times; rerun to resume"
                                       ) from error
                submit(part, tries + 1)
                resubmitted += 1
                continue
            if [(row[0] if job.members else row)["index"] for row in rows] != part:  # one-pass: member rows
                raise RuntimeError(f"a Ray task returned rows for other architectures than chunk {part[0]}..")
            on_rows(rows)
            on_progress(len(rows))
            nodes[node] += 1
            submit(next(todo, None))
    finally:
        for ref in pending:  # only when the run fails or is interrupted
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
    print(f"ray: {sum(nodes.values())} chunks scored on {len(nodes)} node(s)"
          f"{f', {resubmitted} resubmitted' if resubmitted else ''}", file=sys.stderr)
