"""meco_lab: fast, reproducible evaluation of zero-cost NAS proxies (MeCo first) on NAS benchmarks."""

__version__ = "0.1.0"
