"""Value checks shared by every config reader: each raises a one-line ConfigError naming the key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meco_lab.core.errors import ConfigError


def is_int(value: object) -> bool:
    """An int that is not a bool (YAML and Hydra give `true` as a bool, which is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(key: str, value: object, minimum: int | None = 1, maximum: int | None = None,
              allowed: str | None = None, none_ok: bool = False) -> int | None:
    """`value` if it is an integer in [minimum, maximum] (or None with `none_ok`), else ConfigError(key)."""
    if value is None and none_ok:
        return None
    if not is_int(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if allowed is None:
            if minimum is not None and maximum is not None:
                allowed = f"an integer in {minimum}..{maximum}"
            elif minimum is not None:
                allowed = f"an integer >= {minimum}"
            else:
                allowed = "an integer"
            allowed += ", or null" if none_ok else ""
        raise ConfigError(key, value, allowed)
    return value


def check_choice(key: str, value: Any, choices: Iterable[Any]) -> Any:
    """`value` if it is one of `choices`, else ConfigError(key) listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(key, value, choices)
    return value
