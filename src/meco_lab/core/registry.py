"""A name -> object registry, so that a new proxy, space or input source is one file that registers itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from meco_lab.core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to entries; `get` raises a one-line ConfigError that lists what is registered."""

    def __init__(self, key: str):
        self.key = key
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.key}: {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(self.key, name, sorted(self._entries)) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
