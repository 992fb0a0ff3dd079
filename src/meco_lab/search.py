"""`python -m meco_lab.search [overrides]`: select architectures by proxy score (meco_lab.search_methods.run).

`method=topk` ranks a benchmark's candidates by score and keeps the best `k`; `method=zc_pt` runs Zero-Cost-PT on
the space's supernet (docs/zc_pt.md). Both write `selection.json`, which `python -m meco_lab.retrain arch=best` reads.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from meco_lab.core.config import CONF_DIR, main_with_checks, one_line_errors
from meco_lab.search_methods.run import check_search, search_run


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="search")
@one_line_errors
def main(cfg: DictConfig) -> None:
    search_run(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main_with_checks(main, "search", check_search)
