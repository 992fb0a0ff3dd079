"""Sweeps: named specs, their Optuna study, trials scored through the score cache, reports, the paper comparison."""
