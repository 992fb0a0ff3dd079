"""Every bad input ends with a non-zero exit and one line naming the key, the value and what is allowed."""

from __future__ import annotations

import pytest

BAD = {
    "unknown proxy": (["proxy=nope"], "proxy", "nope", "meco_opt"),
    "unknown space": (["space=nope"], "space", "nope", "nats_tss"),
    "unknown dataset": (["data=nope"], "data", "nope", "cifar100"),
    "unknown proxy name": (["proxy.name=nope"], "proxy.name", "nope", "meco"),
    "unknown truth": (["truth=nope"], "truth", "nope", "table"),
    "n below 1": (["proxy=meco_opt", "proxy.n=0"], "proxy.n", "0", ">= 1"),
    "size below 8": (["data.size=4"], "data.size", "4", ">= 8"),
    "size not a multiple of 4": (["data.size=30"], "data.size", "30", "multiple of 4"),
    "samples below 1": (["data.samples=0"], "data.samples", "0", ">= 1"),
    "missing data root": (["data=cifar10", "data.root=/nonexistent/cifar"], "data.root", "/nonexistent/cifar",
                          "folder"),
    "bad hook set": (["proxy.hooks=all"], "proxy.hooks", "all", "reference"),
    "bad device": (["device=tpu"], "device", "tpu", "cuda"),
    "bad reduce": (["data.reduce=max"], "data.reduce", "max", "mean"),
    "bad workers": (["workers=0"], "workers", "0", "an integer in 1.."),
    "limit and sample": (["space.limit=5", "space.sample=5"], "space.sample", "5", "null"),
    "seed not a number": (["seed=abc"], "seed", "'abc'", "an integer >= 0"),
    "seed a fraction": (["seed=1.5"], "seed", "1.5", "an integer >= 0"),
    "more workers than cores": (["workers=100"], "workers", "100", "CPU cores"),
    "threads below 1": (["threads=0"], "threads", "0", ">= 1"),
    "misspelt key": (["spce.limit=5"], "spce.limit", "'5'", "an existing config key (did you mean space.limit?)"),
    "misspelt proxy key": (["proxy.nn=3"], "proxy.nn", "'3'", "(did you mean proxy.n"),
    "archive path without one": (["truth=nats_bench", "truth.path=/tmp"], "truth.path", "'/tmp'",
                                 "no meta.pickle.pbz2 in /tmp"),
    "unknown executor": (["executor=spark"], "executor", "spark", "local, ray"),
    "bad ray address": (["executor=ray", "executor.address=head"], "executor.address", "head", "host:port"),
    "ray num_cpus 0": (["executor=ray", "executor.num_cpus=0"], "executor.num_cpus", "0", "> 0"),
    "ray num_gpus below 0": (["executor=ray", "executor.num_gpus=-1"], "executor.num_gpus", "-1", ">= 0"),
    "ray gpus for cpu": (["executor=ray", "executor.num_gpus=1", "device=cpu"], "executor.num_gpus", "1", "device=cpu"),
    "ray retries below 0": (["executor=ray", "executor.max_retries=-1"], "executor.max_retries", "-1", ">= 0"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_setting_fails_in_one_line(cli, tmp_path, case):
    args, key, value, allowed = BAD[case]
    extra = "space.limit=2" if "space.limit=5" not in args else "chunk=1"
    done = cli(*args, extra, f"hydra.run.dir={tmp_path / 'run'}")
    err = done.stderr.strip()
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(err.splitlines()) == 1, done.stderr
    assert err.startswith(f"error: {key}=") and value in err and "is not allowed: expected " in err, err
    assert allowed in err.split("expected ", 1)[1], err
    assert not (tmp_path / "run").exists(), "a refused command created its run dir"


@pytest.mark.parametrize(("content", "value", "allowed"), [
    ("0\n15625\n", "15625", "0..15624"),
    ("3\n\nseven\n", "'seven'", "an integer"),
    ("-1\n", "-1", "0..15624"),
    ("5\n7\n5\n", "5", "an index not listed before (line 1 has it)"),
])
def test_bad_indices_file(cli, tmp_path, content, value, allowed):
    path = tmp_path / "indices.txt"
    path.write_text(content)
    done = cli(f"space.indices={path}", f"hydra.run.dir={tmp_path / 'run'}")
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, done.stderr
    assert err.startswith(f"error: space.indices ({path}, line ") and f"={value} is not allowed" in err, err
    assert allowed in err.split("expected ", 1)[1], err


def test_empty_indices_file(cli, tmp_path):
    path = tmp_path / "none.txt"
    path.write_text("\n\n")
    done = cli(f"space.indices={path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert done.returncode == 2 and done.stderr.strip() == (
        f"error: space.indices={str(path)!r} is not allowed: expected a file listing at least one architecture index")
    assert not (tmp_path / "run").exists()


def test_missing_indices_file(cli, tmp_path):
    done = cli(f"space.indices={tmp_path / 'none.txt'}", f"hydra.run.dir={tmp_path / 'run'}")
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert err == (f"error: space.indices={str(tmp_path / 'none.txt')!r} is not allowed: expected a text file of "
                   "architecture indices, one per line"), err
