"""Evaluation of scores against ground truth: rank metrics, run summaries and their tables."""
