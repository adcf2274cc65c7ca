"""``vssl.pretrain`` and ``vssl.evaluate``: the `vssl pretrain` / `vssl eval` commands as Python functions.

Overrides name a config key as ``section.key`` in a mapping, or as ``section__key`` in keyword arguments (``__``
stands for the dot), and take Python values (``train__epochs=1``, ``data__labels=["motion"]``). They are checked
like command-line overrides: an unknown key or a wrongly typed value raises ConfigError naming the dotted key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vssl.core.errors import ConfigError

SEPARATOR = "__"  # stands for "." in keyword-argument overrides


def nest_overrides(*overrides: Mapping[str, Any] | None) -> dict:
    """``{"train.epochs": 1}``, ``{"train__epochs": 1}`` or ``{"train": {"epochs": 1}}`` → the nested
    ``{"train": {"epochs": 1}}``; later mappings win."""
    from vssl.core.config import merge

    nested: dict = {}
    for mapping in overrides:
        for key, value in (mapping or {}).items():
            parts = str(key).replace(SEPARATOR, ".").split(".")
            if not all(parts):
                raise ConfigError(f"override key '{key}' must look like section.key or section__key")
            node: Any = value
            for part in reversed(parts):
                node = {part: node}
            nested = merge(nested, node)
    return nested


def build_config(cls, config_or_preset, kind: str, overrides: dict):
    """A preset name / YAML path, a nested dict, a ``cls`` instance or None, plus nested overrides → ``cls``."""
    from vssl.core.config import from_dict, load_preset, merge, to_dict

    if config_or_preset is None:
        base = {}
    elif isinstance(config_or_preset, cls):
        base = to_dict(config_or_preset)
    elif isinstance(config_or_preset, Mapping):
        base = nest_overrides(config_or_preset)
    elif isinstance(config_or_preset, (str, Path)):
        base = load_preset(str(config_or_preset), kind)
    else:
        raise ConfigError(f"expected a {kind} preset name, a YAML path, a dict or a {cls.__name__}, "
                          f"got {type(config_or_preset).__name__}")
    return from_dict(cls, merge(base, overrides))


def pretrain_config(config_or_preset=None, overrides: Mapping[str, Any] | None = None, **kwargs):
    """The ``PretrainConfig`` that ``pretrain`` would run."""
    from vssl.app.pretrain import PretrainConfig

    return build_config(PretrainConfig, config_or_preset, "pretrain", nest_overrides(overrides, kwargs))


def pretrain(config_or_preset=None, overrides: Mapping[str, Any] | None = None, **kwargs) -> Path:
    """Pre-train as `vssl pretrain` does; returns the run folder (encoder.pt, checkpoints/, logs/, summary.json).

    ``config_or_preset``: a preset name (``vcop_world32``), a YAML path, a nested dict or a ``PretrainConfig``.
    Example: ``vssl.pretrain("vcop_world32", data__manifest="data/manifest.csv", train__epochs=1)``.
    """
    from vssl.app.pretrain import run_pretrain

    return run_pretrain(pretrain_config(config_or_preset, overrides, **kwargs))


def eval_config(preset=None, overrides: Mapping[str, Any] | None = None, encoder=None, dataset=None,
                device: str | None = None):
    """The ``EvalConfig`` of a preset plus overrides; ``encoder`` (a checkpoint path or "random"), ``dataset`` (a
    manifest path) and ``device`` fill ``encoder.checkpoint``, ``data.manifest`` and ``device`` when not None."""
    from vssl.app.evaluate import EvalConfig

    given = {"encoder.checkpoint": None if encoder is None else str(encoder),
             "data.manifest": None if dataset is None else str(dataset), "device": device}
    return build_config(EvalConfig, preset, "eval",
                        nest_overrides({k: v for k, v in given.items() if v is not None}, overrides))


def evaluate(encoder, dataset, protocols: Iterable[str] | str = ("knn", "linear"), device: str | None = "auto",
             preset=None, **overrides) -> list:
    """Evaluate an encoder as `vssl eval` does; returns the list of ``Result`` (also added to the ``store``).

    ``encoder``: a vssl backbone (``nn.Module``, e.g. from ``vssl.models.create``), a checkpoint path (ours or
    another tool's, loaded into ``encoder__backbone``) or "random". ``dataset``: a manifest path. ``preset``: an
    eval preset name or YAML path (e.g. ``synthetic_world``). Example:
    ``vssl.evaluate(model, "data/manifest.csv", ("knn",), preset="synthetic_world", store="runs/results.sqlite")``.
    Actions in given boxes (the boxes.csv of `vssl data synth --preset world32_boxes` beside the manifest):
    ``vssl.evaluate(model, "boxes/manifest.csv", ("st_detection",), preset="synthetic_st_detection")``.
    """
    from torch import nn

    from vssl.app.evaluate import run_eval

    module = encoder if isinstance(encoder, nn.Module) else None
    path = None if module is not None else encoder
    config = eval_config(preset, overrides, path, dataset, device)
    names = protocols.split(",") if isinstance(protocols, str) else list(protocols)
    return run_eval(names, config, encoder=module)

