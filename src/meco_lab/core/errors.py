"""One-line configuration errors: name the key, the bad value and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A bad setting. Its message is one line meant for the user, printed without a traceback."""

    def __init__(self, key: str, value: Any, allowed: str | Iterable[Any]):
        if not isinstance(allowed, str):
            allowed = "one of " + ", ".join(str(a) for a in allowed)
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: expected {allowed}")
