"""The Hydra configs, shipped inside the wheel as the package meco_lab._conf (see meco_lab.core.resources)."""
