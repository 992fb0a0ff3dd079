"""MeCo_opt's channel draws on their own: distinct, in range, keyed by (seed, index, module), pinned, and equal to
a plain-Python re-implementation of the documented rule (n lowest of C SplitMix64 hashes)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from meco_lab.proxies.meco import channel_samples

MASK = (1 << 64) - 1


def splitmix64(z: int) -> int:
    """SplitMix64's output function (Steele, Lea, Flood 2014), on Python ints modulo 2^64."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def by_hand(key: str, name: str, channels: int, n: int) -> list[int]:
    """The rule as `channel_samples` documents it: site seed = blake2b-64(key/name); channel c ranks by
    splitmix64(seed + (c + 1) * golden); keep the n lowest ranks (ties by channel order)."""
    seed = int.from_bytes(hashlib.blake2b(f"{key}/{name}".encode(), digest_size=8).digest(), "little")
    ranks = [splitmix64((seed + (c + 1) * 0x9E3779B97F4A7C15) & MASK) for c in range(channels)]
    return sorted(range(channels), key=lambda c: (ranks[c], c))[:n]


NAMES = ["stem", "cells.0", "cells.0.layers.3.op.1", "cells.5", "lastact", "classifier"]


@pytest.mark.parametrize(("channels", "n"), [(16, 8), (64, 8), (32, 4), (9, 8), (8, 8)])
def test_draws_are_distinct_channels_in_range(channels, n):
    rows = channel_samples("0:123", NAMES, channels, n)
    assert rows.shape == (len(NAMES), n)
    for row in rows:
        assert len(set(row.tolist())) == n and row.min() >= 0 and row.max() < channels


@pytest.mark.parametrize("key", ["0:0", "0:1462", "3:1462", "7:15624"])
def test_draws_equal_the_rule_computed_by_hand(key):
    for name in NAMES:
        assert channel_samples(key, [name], 64, 8)[0].tolist() == by_hand(key, name, 64, 8), name


def test_draws_depend_on_seed_index_and_module_and_not_on_order():
    draws = {(s, i, name): tuple(channel_samples(f"{s}:{i}", [name], 64, 8)[0].tolist())
             for s in (0, 1) for i in (5, 6) for name in NAMES}
    assert len(set(draws.values())) == len(draws)  # 24 keys, 24 different draws
    forward = channel_samples("2:77", NAMES, 64, 8)
    backward = channel_samples("2:77", NAMES[::-1], 64, 8)
    assert np.array_equal(forward, backward[::-1])  # a site's draw does not depend on the other sites
    assert np.array_equal(channel_samples("2:77", NAMES, 64, 8), forward)  # reproducible


def test_pinned_draws():
    """A few draws as the engine makes them today; a change here changes every MeCo_opt score."""
    assert channel_samples("0:0", ["stem"], 16, 8)[0].tolist() == PINNED["0:0/stem"]
    assert channel_samples("0:1462", ["cells.5"], 64, 8)[0].tolist() == PINNED["0:1462/cells.5"]
    assert channel_samples("3:9", ["classifier"], 64, 4)[0].tolist() == PINNED["3:9/classifier"]


PINNED = {
    "0:0/stem": [6, 14, 10, 9, 11, 4, 0, 7],
    "0:1462/cells.5": [59, 28, 62, 1, 37, 27, 26, 42],
    "3:9/classifier": [24, 30, 50, 38],
}
