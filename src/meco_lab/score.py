"""`python -m meco_lab.score [overrides]`: score a benchmark's architectures with a proxy and rank-correlate the
scores with the benchmark's ground truth, per task (meco_lab.scoring.run)."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from meco_lab.core.config import CONF_DIR, main_with_checks, one_line_errors
from meco_lab.scoring.plan import plan_run
from meco_lab.scoring.run import score_run


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="score")
@one_line_errors
def main(cfg: DictConfig) -> None:
    score_run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main_with_checks(main, "score", plan_run)
