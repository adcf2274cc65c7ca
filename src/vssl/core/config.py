"""Typed configs: dataclass sections filled from YAML presets plus ``key=value`` overrides, with one-line errors.

A preset is a YAML file whose top-level keys are config sections; ``section.key=value`` overrides on the
command line are parsed as YAML scalars (``3``, ``0.1``, ``true``, ``[1,1,1,1]``). Unknown keys and values of
the wrong type raise :class:`ConfigError` naming the dotted key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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
        kwargs[name] = _coerce(value, hints[name], f"{prefix}.{name}" if prefix else name)
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
