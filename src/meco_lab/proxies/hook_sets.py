"""Which module sites feed the MeCo sum: `proxy.hooks=reference|leaves|cells`."""

from __future__ import annotations

from collections.abc import Callable

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.base import Site

CELL_KINDS = frozenset({"InferCell", "ResNetBasicblock", "SearchCell", "Cell"})
"""Cell classes: NB201 / NATS (`InferCell`, `ResNetBasicblock`), the NB201 and DARTS supernets (both `SearchCell`)
and DARTS' discrete network (`Cell`)."""

HOOK_SETS: dict[str, Callable[[Site], bool]] = {
    # every module that named_modules() yields, containers included (the official MeCo code)
    "reference": lambda site: True,
    # modules without children: conv, BN, ReLU, pooling, identity, zero, classifier
    "leaves": lambda site: site.leaf,
    # the stem and every cell / reduction block output (supernet cells included)
    "cells": lambda site: site.name == "stem" or site.kind in CELL_KINDS,
}


def hook_filter(name: str) -> Callable[[Site], bool]:
    """The site predicate of hook set `name`."""
    if name not in HOOK_SETS:
        raise ConfigError("proxy.hooks", name, sorted(HOOK_SETS))
    return HOOK_SETS[name]
