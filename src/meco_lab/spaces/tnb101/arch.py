"""TransNAS-Bench-101 architecture strings: parse, validate, convert to and from NASLib tuples.

Micro (cell-level) space, 4,096 archs: ``64-41414-{t0}_{t1}{t2}_{t3}{t4}{t5}``. The macro skeleton
``41414`` is fixed; the cell has 4 nodes and 6 edges, digit ``t_k`` is the op on edge k in the order
0->1 | 0->2, 1->2 | 0->3, 1->3, 2->3. Ops: 0 zero, 1 skip (identity, or FactorizedReduce where the
edge changes stride/channels), 2 ReLU-Conv1x1-BN, 3 ReLU-Conv3x3-BN.

Macro (skeleton-level) space, 3,256 archs: ``64-<4..6 digits>-basic``. Each digit is one stage of two
ResNet basic blocks: 1 keep, 2 double channels, 3 stride 2, 4 both. The benchmark's space has 1 to 4
stride-2 stages and 1 to 3 channel-doubling stages (4 x 5 x 6-digit counts: 210 + 750 + 2,296).

NASLib's tuples: micro = the 6 digits in string order; macro = the digits, right-padded with zeros to 6.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import product

BASE_CHANNELS = 64
MICRO_MACRO_CODE = "41414"
MICRO_OPS = {0: "zero", 1: "skip", 2: "relu_conv1x1_bn", 3: "relu_conv3x3_bn"}
MACRO_OPS = {1: "keep", 2: "double_channels", 3: "stride_2", 4: "double_channels_and_stride_2"}
MICRO_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
N_MICRO = 4096
N_MACRO = 3256

_MICRO_RE = re.compile(r"^(\d+)-(\d+)-([0-3])_([0-3]{2})_([0-3]{3})$")
_MACRO_RE = re.compile(r"^(\d+)-([1-4]+)-basic$")


@dataclass(frozen=True)
class TnbArch:
    """One TransNAS-Bench-101 network (encoder) description.

    ``macro_code``: one int per stage (1 keep, 2 double, 3 stride 2, 4 both).
    ``cell_ops``: the 6 micro edge ops (micro space) or None (macro space: ResNet basic blocks).
    """

    macro_code: tuple[int, ...]
    cell_ops: tuple[int, ...] | None
    base_channels: int = BASE_CHANNELS

    @property
    def space(self) -> str:
        return "macro" if self.cell_ops is None else "micro"

    @property
    def arch_str(self) -> str:
        macro = "".join(map(str, self.macro_code))
        if self.cell_ops is None:
            return f"{self.base_channels}-{macro}-basic"
        o = self.cell_ops
        return f"{self.base_channels}-{macro}-{o[0]}_{o[1]}{o[2]}_{o[3]}{o[4]}{o[5]}"

    @property
    def node_codes(self) -> tuple[str, ...]:
        """Micro cell as the benchmark's per-node op strings, e.g. ('', '3', '13', '302')."""
        if self.cell_ops is None:
            raise ValueError(f"{self.arch_str} is a macro arch; it has no cell code")
        o = "".join(map(str, self.cell_ops))
        return ("", o[0], o[1:3], o[3:6])

    @property
    def n_stride_stages(self) -> int:
        """Stages that halve the resolution (codes 3 and 4)."""
        return sum(c > 2 for c in self.macro_code)

    @property
    def n_double_stages(self) -> int:
        """Stages that double the channels (codes 2 and 4)."""
        return sum(c % 2 == 0 for c in self.macro_code)

    @property
    def out_channels(self) -> int:
        """Channels of the encoder output."""
        return self.base_channels * 2**self.n_double_stages

    @property
    def downsample(self) -> int:
        """Input size / encoder output size (the stem halves twice, each stride stage once)."""
        return 4 * 2**self.n_stride_stages

    def to_naslib(self) -> tuple[int, ...]:
        """NASLib's op-index tuple (macro: padded with zeros to length 6)."""
        if self.cell_ops is not None:
            return self.cell_ops
        return self.macro_code + (0,) * (6 - len(self.macro_code))

    def __str__(self) -> str:
        return self.arch_str


def _check_macro(code: tuple[int, ...], s: str) -> None:
    if not 4 <= len(code) <= 6:
        raise ValueError(f"bad TransNAS-Bench-101 macro arch {s!r}: {len(code)} stages, the space has 4 to 6")
    strides = sum(c > 2 for c in code)
    doubles = sum(c % 2 == 0 for c in code)
    if not 1 <= strides <= 4:
        raise ValueError(f"bad TransNAS-Bench-101 macro arch {s!r}: {strides} stride-2 stages (codes 3/4), "
                         "the space has 1 to 4")
    if not 1 <= doubles <= 3:
        raise ValueError(f"bad TransNAS-Bench-101 macro arch {s!r}: {doubles} channel-doubling stages "
                         "(codes 2/4), the space has 1 to 3")


def parse_arch(s: str) -> TnbArch:
    """Parse and validate a TransNAS-Bench-101 arch string (micro or macro); ValueError if it is not in the space."""
    if not isinstance(s, str):
        raise ValueError(f"TransNAS-Bench-101 arch must be a str, got {type(s).__name__}: {s!r}")
    s = s.strip()
    m = _MICRO_RE.match(s)
    if m:
        base, macro, *cell = m.groups()
        if int(base) != BASE_CHANNELS:
            raise ValueError(f"bad TransNAS-Bench-101 micro arch {s!r}: base channels {base}, the benchmark uses 64")
        if macro != MICRO_MACRO_CODE:
            raise ValueError(f"bad TransNAS-Bench-101 micro arch {s!r}: skeleton {macro}, the micro space "
                             f"fixes it to {MICRO_MACRO_CODE}")
        return TnbArch(tuple(map(int, MICRO_MACRO_CODE)), tuple(int(c) for c in "".join(cell)))
    m = _MACRO_RE.match(s)
    if m:
        base, macro = m.groups()
        if int(base) != BASE_CHANNELS:
            raise ValueError(f"bad TransNAS-Bench-101 macro arch {s!r}: base channels {base}, the benchmark uses 64")
        code = tuple(int(c) for c in macro)
        _check_macro(code, s)
        return TnbArch(code, None)
    raise ValueError(
        f"bad TransNAS-Bench-101 arch {s!r}: expected '64-41414-A_BC_DEF' (micro, digits 0-3) "
        "or '64-<4 to 6 digits 1-4>-basic' (macro)"
    )


def from_naslib(ops: Iterable[int], space: str) -> TnbArch:
    """Arch from NASLib's op-index tuple (``space`` 'micro' or 'macro'); ValueError if invalid."""
    ops = tuple(int(o) for o in ops)
    if space == "micro":
        if len(ops) != 6 or any(o not in MICRO_OPS for o in ops):
            raise ValueError(f"bad NASLib TransNAS micro tuple {ops}: need 6 ops in 0..3")
        return TnbArch(tuple(map(int, MICRO_MACRO_CODE)), ops)
    if space == "macro":
        if len(ops) > 6:
            raise ValueError(f"bad NASLib TransNAS macro tuple {ops}: more than 6 entries")
        n = len(ops)
        while n and ops[n - 1] == 0:
            n -= 1
        code = ops[:n]
        if any(o not in MACRO_OPS for o in code):
            raise ValueError(f"bad NASLib TransNAS macro tuple {ops}: stages 1..4, zero padding at the end only")
        _check_macro(code, str(ops))
        return TnbArch(code, None)
    raise ValueError(f"unknown TransNAS-Bench-101 space {space!r}: 'micro' or 'macro'")


def iter_micro() -> Iterator[TnbArch]:
    """All 4,096 micro archs (lexicographic digit order, not NASLib's index order)."""
    for ops in product(range(4), repeat=6):
        yield TnbArch(tuple(map(int, MICRO_MACRO_CODE)), ops)


def iter_macro() -> Iterator[TnbArch]:
    """All 3,256 macro archs (by length, then lexicographic digit order)."""
    for n in (4, 5, 6):
        for code in product(range(1, 5), repeat=n):
            if 1 <= sum(c > 2 for c in code) <= 4 and 1 <= sum(c % 2 == 0 for c in code) <= 3:
                yield TnbArch(code, None)
