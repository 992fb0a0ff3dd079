"""Golden values: per-architecture scores of the engine, pinned in tests/fixtures/golden.json.

Each case is a list of config overrides (what a user types after `python -m meco_lab.score`) and the
architectures it scores. `test_golden.py` recomputes every case and compares it with the fixture, so a
change of any score fails the suite. After a deliberate change of what a proxy, space or input computes,
regenerate the fixture on purpose and commit it with a message that says why the numbers moved:

    python tests/golden.py --write

Scores are compared to a relative 1e-6 (not bit for bit): the fixture must also hold on a CI machine whose
CPU rounds float32 convolutions in another order. Bit-identity run to run and across workers is tested
elsewhere, within one machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "golden.json"
REGENERATE = "python tests/golden.py --write"
RELATIVE = 1e-6

TSS_SAMPLE = ["space.sample=24", "space.sample_seed=11"]
SSS_SAMPLE = ["space=nats_sss", "space.sample=8", "space.sample_seed=11"]
BATCH = ["data=cifar10", "data.samples=16"]  # the proxies sweep's batch (sweeps/proxies.yaml)
FEW = ["space.indices=@few"]  # 6 TSS archs (FEW_INDICES) for the slower baselines

FEW_INDICES = (0, 11, 284, 1462, 9894, 14108)  # 9894 is all `none`; 1462 all nor_conv_3x3

CASES: dict[str, list[str]] = {
    "meco/random": [*TSS_SAMPLE, "proxy=meco"],
    "meco/cifar10": [*TSS_SAMPLE, "proxy=meco", "data=cifar10"],
    "meco/imagenet16@16": [*TSS_SAMPLE, "proxy=meco", "data=imagenet16", "data.size=16"],
    "meco/leaves": [*TSS_SAMPLE, "proxy=meco", "proxy.hooks=leaves"],
    "meco/mean-of-4": [*TSS_SAMPLE, "proxy=meco", "data.samples=4", "data.reduce=mean"],
    "meco_opt8/random": [*TSS_SAMPLE, "proxy=meco_opt", "proxy.n=8"],
    "meco_opt8/cifar10": [*TSS_SAMPLE, "proxy=meco_opt", "proxy.n=8", "data=cifar10"],
    "meco_opt4/seed3": [*TSS_SAMPLE, "proxy=meco_opt", "proxy.n=4", "seed=3"],
    "meco/sss": [*SSS_SAMPLE, "proxy=meco"],
    "meco_opt8/sss": [*SSS_SAMPLE, "proxy=meco_opt"],
    "params": [*FEW, "proxy=params"],
    "synflow": [*FEW, "proxy=synflow"],
    "snip": [*FEW, *BATCH, "proxy=snip"],
    "grad_norm": [*FEW, *BATCH, "proxy=grad_norm"],
    "nwot": [*FEW, *BATCH, "proxy=nwot"],
    "jacov": [*FEW, *BATCH, "proxy=jacov"],
    "zico": [*FEW, *BATCH, "proxy=zico"],
}


def resolve(overrides: list[str], folder: Path) -> list[str]:
    """The overrides with `space.indices=@few` pointing at a file of FEW_INDICES in `folder`."""
    out = []
    for item in overrides:
        if item == "space.indices=@few":
            path = folder / "few_indices.txt"
            path.write_text("\n".join(map(str, FEW_INDICES)) + "\n")
            item = f"space.indices={path}"
        out.append(item)
    return out


def compute(name: str, folder: Path) -> dict[str, float | None]:
    """{index: score} for one case, through the config and the engine as `score` runs them (NaN -> None)."""
    from meco_lab.core.config import compose_config
    from meco_lab.scoring.plan import plan_run
    from meco_lab.scoring.scorer import Scorer

    plan = plan_run(compose_config(resolve(CASES[name], folder)))
    rows = Scorer(plan.job).score_many(plan.indices)
    return {str(r["index"]): (None if math.isnan(r["score"]) else r["score"]) for r in rows}


# Runs of `python -m meco_lab.score` whose summary (rho, tau, top-10 accuracy per dataset) the CLI tests pin.
CLI_RUNS: dict[str, list[str]] = {
    "sample120": ["space.sample=120", "space.sample_seed=3"],  # tests/test_cli.py
    "cifar10/limit40": ["data=cifar10", "space.limit=40"],  # tests/test_run_options.py
    "cifar100/limit40": ["data=cifar100", "space.limit=40"],
    "imagenet16/limit40": ["data=imagenet16", "space.limit=40"],
}
SUMMARY_KEYS = ("n_archs", "n_nan", "spearman", "kendall", "top10_mean_accuracy")


def cli_summary(name: str, folder: Path) -> dict[str, Any]:
    """The pinned part of `score`'s summary for CLI_RUNS[name], computed in this process."""
    import io

    from omegaconf import OmegaConf
    from rich.console import Console

    from meco_lab.core.config import compose_config
    from meco_lab.scoring.run import score_run

    config = OmegaConf.create(compose_config(CLI_RUNS[name]))
    summary = score_run(config, folder / name.replace("/", "-"), Console(file=io.StringIO()))
    return {key: summary[key] for key in SUMMARY_KEYS}


def summary_mismatches(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Lines naming every summary value that left the golden one (counts exact, metrics to 1e-9)."""
    out = []
    for key in SUMMARY_KEYS:
        want, have = expected[key], got.get(key)
        if isinstance(want, dict):
            for d, value in want.items():
                if have is None or not math.isclose(have.get(d, math.nan), value, rel_tol=0, abs_tol=1e-9):
                    out.append(f"{key}[{d}]: golden {value}, now {None if have is None else have.get(d)}")
        elif want != have:
            out.append(f"{key}: golden {want}, now {have}")
    return out


def truth_sums() -> dict[str, float]:
    """Column sums of the built-in ground truth (accuracy per metric and dataset, exact parameter counts)."""
    from meco_lab.benchmarks.truth import NATS_DATASETS, load_params, load_table_truth

    sums = {f"{metric}/{d}": float(load_table_truth(metric).values[d].sum()) for metric in ("test", "valid")
            for d in NATS_DATASETS}
    return sums | {f"params/{d}": float(load_params(d).sum()) for d in NATS_DATASETS}


def load() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def mismatches(expected: dict[str, float | None], got: dict[str, float | None]) -> list[str]:
    """Lines naming every architecture whose score left the golden value (beyond RELATIVE)."""
    out = []
    for index in sorted(set(expected) | set(got), key=int):
        want, have = expected.get(index, "missing"), got.get(index, "missing")
        same = (want is None and have is None) or (
            isinstance(want, float) and isinstance(have, float) and math.isclose(have, want, rel_tol=RELATIVE))
        if not same:
            out.append(f"arch {index}: golden {want}, now {have}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="recompute every case and rewrite the fixture")
    parser.add_argument("cases", nargs="*", help="only these cases (default: all)")
    args = parser.parse_args()
    import tempfile

    import torch

    torch.set_num_threads(1)
    old = load() if FIXTURE.exists() else {"cases": {}}
    names = args.cases or list(CASES)
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            got = compute(name, Path(folder))
            bad = mismatches(old["cases"].get(name, {}).get("scores", {}), got)
            print(f"{name}: {len(got)} archs, {'unchanged' if not bad else f'{len(bad)} changed'}")
            old["cases"][name] = {"overrides": CASES[name], "scores": got}
        for name in CLI_RUNS if not args.cases else ():
            got = cli_summary(name, Path(folder))
            bad = summary_mismatches(old.get("cli", {}).get(name, {}).get("summary", got), got)
            print(f"cli {name}: {'unchanged' if not bad else f'{len(bad)} changed'}")
            old.setdefault("cli", {})[name] = {"overrides": CLI_RUNS[name], "summary": got}
    old["truth_sums"] = truth_sums()
    if args.write:
        old["regenerate"] = REGENERATE
        FIXTURE.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
        print(f"written to {FIXTURE}")


if __name__ == "__main__":
    sys.exit(main())
