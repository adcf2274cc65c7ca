"""Typed configs: dataclass sections filled from YAML presets plus ``key=value`` overrides, with one-line errors.

A preset is a YAML file whose top-level keys are config sections; ``section.key=value`` overrides on the
command line are parsed as YAML scalars (``3``, ``0.1``, ``true``, ``[1,1,1,1]``). Unknown keys and values of
the wrong type raise :class:`ConfigError` naming the dotted key, and so do numbers outside the range a field
declares with :func:`ranged` (e.g. ``epochs: int = ranged(200, ge=1)``), checked by :func:`from_dict`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from vssl.core.errors import ConfigError

PRESET_DIR = Path(__file__).parent.parent / "configs"


def find_preset(name_or_path: str, kind: str) -> Path:
    """Resolve a preset name (``configs/<kind>/<name>.yaml`` inside the package) or a YAML path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    candidate = PRESET_DIR / kind / f"{name_or_path}.yaml"
    if not candidate.is_file():
        available = sorted(p.stem for p in (PRESET_DIR / kind).glob("*.yaml"))
        raise ConfigError(f"unknown {kind} preset '{name_or_path}' (available: {', '.join(available)})")
    return candidate


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections")
    return data


def parse_overrides(overrides: list[str]) -> dict:
    """Turn ``["method.rho=3", "train.epochs=2"]`` into a nested dict."""
    nested: dict = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        dotted, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = nested
        parts = dotted.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{dotted}' conflicts with another override")
        node[parts[-1]] = value
    return nested


def merge(base: dict, extra: dict) -> dict:
    """Recursive dict merge; ``extra`` wins."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a numeric setting: bounds ``ge``/``gt`` below and ``le``/``lt`` above (None = open)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __contains__(self, value) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def __str__(self) -> str:
        low = (f"[{self.ge:g}" if self.ge is not None else f"({self.gt:g}" if self.gt is not None else None)
        high = (f"{self.le:g}]" if self.le is not None else f"{self.lt:g})" if self.lt is not None else None)
        if low and high:
            return f"in {low}, {high}"
        if low:
            return f"{'>=' if self.ge is not None else '>'} {low[1:]}"
        return f"{'<=' if self.le is not None else '<'} {high[:-1]}" if high else "any number"


RANGE_KEY = "vssl_range"


def ranged(default, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None):
    """A dataclass field whose value (each item of a tuple; None always passes) must lie in the given range when
    loaded by :func:`from_dict`, e.g. ``lr: float = ranged(0.1, gt=0)``."""
    return dataclasses.field(default=default, metadata={RANGE_KEY: Range(ge=ge, gt=gt, le=le, lt=lt)})


def check_range(value, allowed: Range, key: str) -> None:
    """Raise naming ``key`` when ``value`` (or one of its items) lies outside ``allowed``."""
    if value is None:
        return
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            check_range(item, allowed, f"{key}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value not in allowed:
        raise ConfigError(f"{key}={value!r} is out of range: expected {allowed}")


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp, key: str):
    """Check ``value`` against a field annotation, converting ints to floats and lists to tuples."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: expected {' or '.join(_type_name(o) for o in options)}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    return value


def from_dict(cls, data: dict | None, prefix: str = ""):
    """Build dataclass ``cls`` from a dict, rejecting unknown keys and wrongly typed values."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"unknown config key '{where}{unknown[0]}' (valid: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(value, hints[name], key)
        if RANGE_KEY in fields[name].metadata:
            check_range(kwargs[name], fields[name].metadata[RANGE_KEY], key)
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"missing config key '{prefix + '.' if prefix else ''}{missing[0]}'")
    return cls(**kwargs)


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def config_hash(config) -> str:
    """Short stable hash of a config, stored with every result."""
    blob = json.dumps(to_dict(config) if dataclasses.is_dataclass(config) else config, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


MAX_PRESET_DEPTH = 8


def load_preset(preset: str, kind: str) -> dict:
    """A preset's settings; a preset may start from another one with ``base: <preset>`` and override it (so a shared
    recipe is written once, e.g. ``configs/pretrain/world32_recipe.yaml``)."""
    chain: list[str] = []
    data = load_yaml(find_preset(preset, kind))
    while "base" in data:
        base = data.pop("base")
        chain.append(str(base))
        if len(chain) > MAX_PRESET_DEPTH or chain.count(str(base)) > 1:
            raise ConfigError(f"preset '{preset}': 'base' chain {' -> '.join(chain)} loops or is too deep")
        data = merge(load_yaml(find_preset(str(base), kind)), data)
    return data


def load_config(cls, preset: str | None, kind: str, overrides: list[str]):
    """Preset (optional) + overrides → validated dataclass ``cls``."""
    data = load_preset(preset, kind) if preset else {}
    return from_dict(cls, merge(data, parse_overrides(overrides)))
