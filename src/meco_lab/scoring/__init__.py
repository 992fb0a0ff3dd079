"""Scoring: the plan of a run, the scorer, parallel workers, resumable parts, the score cache, the run itself."""
