"""`python -m meco_lab.retrain [overrides]`: train selected architectures from scratch with Lightning
(meco_lab.training.run).

`arch=best` trains the best architecture of the latest `meco_lab.search` selection; an NB201 arch string
or a DARTS genotype (or a list) trains those. NB201 cells train with `profile=nb201` (or `smoke`), DARTS
genotypes with `profile=darts` (or `darts_smoke`). Each (architecture, seed) trains in
`<run dir>/<arch key>/seed_<seed>/` with an atomic `last.ckpt` written after every epoch, so repeating a
killed command with the same `hydra.run.dir` resumes. See docs/retrain.md (and docs/darts.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from meco_lab.core.config import CONF_DIR, main_with_checks, one_line_errors
from meco_lab.training.archs import quote_arch_overrides
from meco_lab.training.run import plan_retrain, retrain_run


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="retrain")
@one_line_errors
def main(cfg: DictConfig) -> None:
    retrain_run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    sys.argv[1:] = quote_arch_overrides(sys.argv[1:])
    main_with_checks(main, "retrain", plan_retrain)
