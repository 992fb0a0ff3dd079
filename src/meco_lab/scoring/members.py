"""Composite proxies, whose `proxy` config lists member proxies instead of naming one:

- `proxy=multi`: every member scored in one pass per architecture (`proxies.shared.SharedPass`), each member's scores
  written to the score cache under the key a single-proxy run of that member has;
- `proxy=ensemble`: the members' cached scores combined by rank aggregation (`scoring.ensemble`), computing in one
  pass only what the cache lacks.

A member is a proxy name (its conf/proxy/<name>.yaml defaults) or a mapping `{name: <proxy>, label: <label>,
<option>: <value>...}` for other options; its label (default: the name) names its folder in a multi run and its
weight in an ensemble. Every member is checked here, in one line, before any work.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meco_lab.core.config import group_config
from meco_lab.core.errors import ConfigError
from meco_lab.proxies import PROXIES

COMPOSITE = ("multi", "ensemble")
COMBINE = ("logrank", "rank")
LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MEMBER_FORM = "a proxy name, or a mapping {name: <proxy>, label: <label>, <option>: <value>...}"


@dataclass(frozen=True)
class Member:
    """One member of a composite proxy: its label and its full proxy config (what `proxy=<name>` would give)."""

    label: str
    proxy: dict[str, Any]


def is_composite(proxy: Mapping[str, Any]) -> bool:
    return proxy.get("name") in COMPOSITE


def resolve_members(proxy: Mapping[str, Any]) -> tuple[Member, ...]:
    """The members of a composite proxy config, each with its defaults filled in; raises a one-line ConfigError."""
    raw = proxy.get("members")
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ConfigError("proxy.members", raw, f"a non-empty list of members, each {MEMBER_FORM}")
    members: list[Member] = []
    for k, item in enumerate(raw):
        key = f"proxy.members[{k}]"
        if isinstance(item, str):
            name, label, options = item, item, {}
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            name, label = item["name"], item.get("label") or item["name"]
            options = {o: v for o, v in item.items() if o not in ("name", "label")}
        else:
            raise ConfigError(key, item, MEMBER_FORM)
        if name in COMPOSITE:
            raise ConfigError(key, name, "a proxy of the registry, not a composite one (multi, ensemble)")
        if name not in PROXIES:
            raise ConfigError(key, name, PROXIES.names())
        try:
            defaults = group_config("proxy", name)
        except ConfigError:  # a proxy registered without a config file: no options
            defaults = {"name": name}
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            known = ", ".join(sorted(set(defaults) - {"name"})) or "none"
            raise ConfigError(f"{key}.{unknown[0]}", options[unknown[0]], f"an option of proxy {name} ({known})")
        if not isinstance(label, str) or not LABEL.fullmatch(label):
            raise ConfigError(f"{key}.label", label, "a label of letters, digits and _ that starts with a letter")
        members.append(Member(label, {**defaults, **options}))
    labels = [m.label for m in members]
    for label in labels:
        if labels.count(label) > 1:
            raise ConfigError("proxy.members", label, "members with distinct labels (give a second member of the "
                                                      "same proxy its own `label`)")
    settings = [json.dumps(m.proxy, sort_keys=True) for m in members]
    for k, text in enumerate(settings):
        if settings.index(text) != k:
            raise ConfigError(f"proxy.members[{k}]", members[k].label,
                              f"members with distinct settings ({members[settings.index(text)].label} has the same)")
    return tuple(members)


def ensemble_weights(proxy: Mapping[str, Any], members: tuple[Member, ...]) -> dict[str, float]:
    """Each member's weight in an ensemble (`proxy.weights`: {label: weight >= 0}; a member not listed weighs 1);
    at least one weight must be positive."""
    raw = proxy.get("weights") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("proxy.weights", raw, "null or a mapping {member label: weight >= 0}")
    labels = [m.label for m in members]
    weights = dict.fromkeys(labels, 1.0)
    for label, value in raw.items():
        if label not in weights:
            raise ConfigError(f"proxy.weights.{label}", value, f"a weight of a member ({', '.join(labels)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"proxy.weights.{label}", value, "a number >= 0")
        weights[label] = float(value)
    if not any(w > 0 for w in weights.values()):
        raise ConfigError("proxy.weights", dict(raw), "at least one positive weight")
    return weights


def check_composite(proxy: Mapping[str, Any]) -> tuple[Member, ...]:
    """Every setting of a composite proxy (members; for an ensemble also weights and combine), checked."""
    members = resolve_members(proxy)
    unknown = sorted(set(proxy) - {"name", "members", "weights", "combine"} if proxy["name"] == "ensemble"
                     else set(proxy) - {"name", "members"})
    if unknown:
        raise ConfigError(f"proxy.{unknown[0]}", proxy[unknown[0]], f"a setting of proxy={proxy['name']}")
    if proxy["name"] == "ensemble":
        ensemble_weights(proxy, members)
        if proxy.get("combine", "logrank") not in COMBINE:
            raise ConfigError("proxy.combine", proxy.get("combine"), COMBINE)
    return members


def member_config(config: Mapping[str, Any], member: Member) -> dict[str, Any]:
    """The config of a single-proxy run of `member` (its fingerprint keys the member's score-cache entry)."""
    return {**config, "proxy": dict(member.proxy)}
