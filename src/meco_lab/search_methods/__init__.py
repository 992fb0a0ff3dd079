"""Architecture search with proxies: top-k selection from a benchmark, and Zero-Cost-PT pruning of supernets."""
