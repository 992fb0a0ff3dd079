"""`python -m meco_lab.score [overrides]`: score a search space with a proxy and rank-correlate with accuracy."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from meco_lab.cli import CONF_DIR, main_with_checks, one_line_errors
from meco_lab.runner import score_run


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="score")
@one_line_errors
def main(cfg: DictConfig) -> None:
    score_run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main_with_checks(main)
