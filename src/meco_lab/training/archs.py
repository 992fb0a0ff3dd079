"""Which architectures to retrain: `arch=best` (from a selection file), NB201 arch strings or DARTS genotypes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from meco_lab.core.errors import ConfigError
from meco_lab.spaces.darts.genotype import format_genotype, parse_genotype
from meco_lab.spaces.nb201.cell import NUM_NODES, OPS, format_arch, parse_arch

DEFAULT_SELECTION = Path("outputs") / "latest_selection.json"
ARCH_HELP = ("'best' (the best of a selection) or an NB201 arch string, 3 '+'-separated nodes with 1, 2, 3 "
             f"edges op~source, op in {', '.join(OPS)}; or a DARTS genotype Genotype(normal=[...], ...)")


@dataclass(frozen=True)
class ArchChoice:
    """One architecture to train: its canonical arch string, NATS-TSS index (None if not in the space), origin.

    `space` is `nb201` (an NB201 cell) or `darts` (a DARTS genotype).
    """

    arch: str
    index: int | None
    origin: str
    space: str = "nb201"

    @property
    def key(self) -> str:
        """A folder name: `nats-<index>` for NATS-TSS archs, `darts-<hash>` for genotypes, else `arch-<hash>`."""
        if self.index is not None:
            return f"nats-{self.index}"
        prefix = "darts-" if self.space == "darts" else "arch-"
        return prefix + hashlib.blake2b(self.arch.encode(), digest_size=5).hexdigest()


@lru_cache(maxsize=1)
def _nats_index() -> dict[str, int]:
    from meco_lab.spaces.nb201.space import nats_tss_archs

    return {arch: i for i, arch in enumerate(nats_tss_archs())}


def nats_index(arch: str) -> int | None:
    """NATS-TSS index of a canonical arch string, or None."""
    return _nats_index().get(arch)


def check_arch_string(arch: str, key: str = "arch") -> str:
    """The canonical form of an NB201 arch string; ConfigError naming the problem (edge count, op) otherwise."""
    text = str(arch).strip()
    nodes = text.split("+")
    if len(nodes) != NUM_NODES - 1:
        raise ConfigError(key, arch, f"{ARCH_HELP} (found {len(nodes)} nodes)")
    for j, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|") and len(node) > 1):
            raise ConfigError(key, arch, f"{ARCH_HELP} (node {j} {node!r} must start and end with '|')")
        edges = node[1:-1].split("|")
        if len(edges) != j:
            plural = "edge" if len(edges) == 1 else "edges"
            raise ConfigError(key, arch, f"{ARCH_HELP} (node {j} has {len(edges)} {plural}, expected {j})")
    try:
        return format_arch(parse_arch(text))
    except ValueError as err:
        reason = str(err).split(": ", 1)[-1]
        raise ConfigError(key, arch, f"{ARCH_HELP} ({reason})") from None


def is_genotype(arch: Any) -> bool:
    """Whether `arch` is written as a DARTS genotype (`Genotype(...)`) rather than an NB201 arch string."""
    return str(arch).strip().startswith("Genotype")


def check_arch(arch: Any, key: str, origin: str) -> ArchChoice:
    """An NB201 arch string or a DARTS genotype, checked and in canonical form."""
    if is_genotype(arch):
        return ArchChoice(format_genotype(parse_genotype(str(arch), key)), None, origin, "darts")
    canonical = check_arch_string(arch, key)
    return ArchChoice(canonical, nats_index(canonical), origin)


def read_selection(path: Path, key: str) -> dict[str, Any]:
    """A selection.json written by `meco_lab.search`; ConfigError when missing or malformed."""
    if not path.is_file():
        raise ConfigError(key, str(path), "an existing selection.json written by python -m meco_lab.search")
    try:
        selection = json.loads(path.read_text())
        selection["best"]["arch"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(key, str(path), "a selection.json written by python -m meco_lab.search (with 'best')") \
            from None
    return selection


def resolve_archs(arch: Any, selection: str | None, default_selection: Path = DEFAULT_SELECTION) -> list[ArchChoice]:
    """`arch` (one value or a list) -> the architectures to train, in order, without duplicates."""
    values = list(arch) if isinstance(arch, (list, tuple)) else [arch]
    if not values:
        raise ConfigError("arch", arch, ARCH_HELP)
    chosen: list[ArchChoice] = []
    for value in values:
        if value is None or str(value).strip() == "":
            raise ConfigError("arch", value, ARCH_HELP)
        if str(value).strip() == "best":
            if selection is None:
                path = default_selection
                if not path.is_file():
                    raise ConfigError("arch", "best", f"a selection to read: {path} is missing (run python -m "
                                                       "meco_lab.search first, or set selection=PATH)")
                selection_data = read_selection(path, "selection")
            else:
                path = Path(selection).expanduser()
                selection_data = read_selection(path, "selection")
            best = selection_data["best"]["arch"]
            if selection_data.get("space") == "darts" and not is_genotype(best):
                raise ConfigError("selection", str(path), f"a best arch that is a DARTS genotype (space darts), "
                                                          f"not {best!r}")
            choice = check_arch(best, "selection", f"best of {path}")
        else:
            choice = check_arch(value, "arch", "given")
        if choice.arch not in [c.arch for c in chosen]:
            chosen.append(choice)
    return chosen


def split_top_level(text: str) -> list[str]:
    """Split at the commas outside brackets and quotes: `best,Genotype(normal=[...], ...)` -> two items."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    return [item.strip() for item in [*items, text[start:]] if item.strip()]


def _quoted(value: str) -> str:
    if value[0] in "'\"":
        return value
    return f'"{value}"' if "'" in value else f"'{value}'"


def quote_arch_overrides(argv: list[str]) -> list[str]:
    """Quote the arch strings of `arch=` overrides: Hydra's grammar rejects `~` and DARTS genotypes unquoted."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if key == "arch" and sep and value:
            if value.startswith("[") and value.endswith("]"):
                value = "[" + ",".join(_quoted(v) for v in split_top_level(value[1:-1])) + "]"
            elif value[0] not in "'\"" and ("'" not in value or value.startswith("Genotype")):
                value = _quoted(value)
            arg = f"{key}={value}"
        out.append(arg)
    return out
