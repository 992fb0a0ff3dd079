"""The bottom layer: errors, the registry, value checks, atomic writes, package resources and config plumbing.

Nothing here imports another meco_lab package.
"""
