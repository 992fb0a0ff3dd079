"""Seeds derived from their parts: the same in every process and run, whatever else runs."""

from __future__ import annotations

import hashlib


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from its parts: blake2b-64 of `"part1:part2:..."`, halved (e.g. `(seed, index)`)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
