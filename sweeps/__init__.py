"""The named sweeps, shipped inside the wheel as the package meco_lab._sweeps (see meco_lab.core.resources)."""
