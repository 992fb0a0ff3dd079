"""Spearman rho of a sweep's proxies with failed (NaN) architectures left out, and with them ranked last.

The engine records a non-finite score as NaN and rank metrics leave those architectures out. Some
proxies fail on the cells whose output does not depend on the input (every path from input to output
cut by `none`), and those train to chance accuracy; ranking them last, as a score of -inf would, is
the other common convention. This prints both for every proxy of a grid sweep that has NaN scores,
reading the scores from the sweep's score cache (nothing is recomputed).

    python benchmarks/nan_policy.py proxies --profile full [--cache-dir outputs/cache/scores]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from meco_lab.benchmarks.truth import NATS_DATASETS
from meco_lab.core.config import compose_config
from meco_lab.scoring.cache import cache_key
from meco_lab.scoring.plan import fingerprint, plan_run
from meco_lab.scoring.store import ScoreStore
from meco_lab.sweeps.spec import load_sweep
from meco_lab.sweeps.trial import trial_overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--cache-dir", default="outputs/cache/scores")
    args = parser.parse_args()
    spec = load_sweep(args.sweep, args.profile)
    print(f"{'proxy':10} {'NaN':>5}  " + "  ".join(f"{d + ' drop / last':>28}" for d in NATS_DATASETS))
    for point in spec.grid():
        config = compose_config(trial_overrides(spec, point, spec.seeds[0]))
        entry = Path(args.cache_dir) / cache_key(config)
        if not entry.exists():
            continue
        plan = plan_run(config)
        scores = ScoreStore(entry, fingerprint(config)).load().filter(pl.col("index").is_in(plan.indices))
        if len(scores) < len(plan.indices) or not scores["score"].is_nan().any():
            continue  # not finished, or nothing failed
        index, values = scores["index"].to_numpy(), scores["score"].to_numpy()
        failed = np.isnan(values)
        cells = []
        for d in NATS_DATASETS:
            accuracy = plan.truth.values[d][index]
            dropped = spearmanr(values[~failed], accuracy[~failed]).statistic
            last = spearmanr(np.where(failed, -np.inf, values), accuracy).statistic
            cells.append(f"{dropped:>13.3f} / {last:<12.3f}")
        print(f"{'/'.join(map(str, point.values())):10} {int(failed.sum()):>5}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
