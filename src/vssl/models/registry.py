"""Backbone registry and the interface every video backbone shares (feature taps, feature_dim)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable

import torch
from torch import nn

from vssl.core.errors import VsslError

# Modules whose import registers the built-in backbones; imported lazily to avoid an import cycle.
_BUILTIN_BACKBONE_MODULES = (
    "vssl.models.resnet3d",
    "vssl.models.c3d",
    "vssl.models.i3d",
    "vssl.models.s3d",
    "vssl.models.efficient3d",
    "vssl.models.vit",
    "vssl.models.swin3d",
    "vssl.models.skeleton",
)


class VideoBackbone(nn.Module):
    """A video encoder: [B, 3, T, H, W] -> [B, feature_dim], with named intermediate taps.

    Subclasses set ``feature_dim``, ``tap_names`` and ``default_input`` (frames, size) and
    implement ``stages()``, the ordered (tap name, module) pairs whose composition is the encoder.
    """

    feature_dim: int
    tap_names: tuple[str, ...]
    default_input: tuple[int, int]

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        """The encoder as ordered (tap name, callable) pairs; the names are ``tap_names``."""
        raise NotImplementedError

    def features(self, x: torch.Tensor, taps: Iterable[str] | str = ("layer4", "pool")) -> dict[str, torch.Tensor]:
        """Outputs of the requested taps; stages after the deepest requested tap are not run."""
        requested = self._check_taps(taps)
        outputs: dict[str, torch.Tensor] = {}
        for name, stage in self.stages():
            x = stage(x)
            if name in requested:
                outputs[name] = x
                if len(outputs) == len(requested):
                    break
        return outputs

    def _check_taps(self, taps: Iterable[str] | str) -> set[str]:
        requested = {taps} if isinstance(taps, str) else set(taps)
        if not requested:
            raise VsslError(f"features() needs at least one tap; valid taps: {', '.join(self.tap_names)}")
        unknown = sorted(requested - set(self.tap_names))
        if unknown:
            raise VsslError(
                f"unknown feature tap {', '.join(map(repr, unknown))} for {type(self).__name__}; "
                f"valid taps: {', '.join(self.tap_names)}"
            )
        return requested


def check_width(width: float) -> None:
    """Raise VsslError unless ``width`` is a positive number."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or width <= 0:
        raise VsslError(f"backbone option width={width!r} must be a positive number")


def check_num_classes(num_classes: int) -> None:
    """Raise VsslError unless ``num_classes`` is an int >= 0."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise VsslError(f"backbone option num_classes={num_classes!r} must be an int >= 0 (0 = no classifier)")


_BACKBONES: dict[str, Callable[..., VideoBackbone]] = {}


def register_backbone(name: str) -> Callable[[Callable[..., VideoBackbone]], Callable[..., VideoBackbone]]:
    """Decorator that makes a backbone builder available to ``build_backbone(name)``."""

    def register(builder: Callable[..., VideoBackbone]) -> Callable[..., VideoBackbone]:
        if name in _BACKBONES:
            raise ValueError(f"backbone {name!r} is already registered")
        _BACKBONES[name] = builder
        return builder

    return register


def _registered_backbones() -> dict[str, Callable[..., VideoBackbone]]:
    for module_name in _BUILTIN_BACKBONE_MODULES:
        importlib.import_module(module_name)
    return _BACKBONES


def list_backbones() -> list[str]:
    """Names accepted by ``build_backbone``, sorted."""
    return sorted(_registered_backbones())


def build_backbone(name: str, **kwargs) -> VideoBackbone:
    """Build the backbone registered as ``name`` with the builder's keyword options."""
    backbones = _registered_backbones()
    if name not in backbones:
        raise VsslError(f"unknown backbone {name!r}; available: {', '.join(sorted(backbones))}")
    builder = backbones[name]
    options = inspect.signature(builder).parameters
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise VsslError(
            f"backbone {name!r} got unknown option {', '.join(map(repr, unknown))}; "
            f"valid options: {', '.join(sorted(options))}"
        )
    return builder(**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Total number of parameter elements (trainable or not), as published parameter counts report."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_flops(model: nn.Module, frames: int, size: int) -> int:
    """FLOPs of one forward pass of ``model`` on a [1, 3, frames, size, size] clip.

    Counted by ``torch.utils.flop_counter.FlopCounterMode``: 2 FLOPs per multiply-accumulate of convolutions
    and matrix products (FLOPs = 2 x MACs), nothing for biases, normalisation, activations or pooling. Papers
    that quote video-backbone "FLOPs" (Feichtenhofer et al. 2021 Table 5, fvcore, PySlowFast) quote MACs, i.e. half of this.
    The clip is made on the device of the model's parameters, so a model built under ``torch.device("meta")``
    is counted without computing anything. The model runs in eval mode (BN statistics are left untouched).
    """
    from torch.utils.flop_counter import FlopCounterMode

    for option, value in (("frames", frames), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise VsslError(f"count_flops option {option}={value!r} must be a positive int")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    # a skeleton encoder (vssl.models.skeleton) makes its own [1, 3, frames, joints, bodies] input
    clip = (model.example_input(frames, device) if hasattr(model, "example_input")
            else torch.empty(1, 3, frames, size, size, device=device))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(clip)
    finally:
        model.train(was_training)
    return counter.get_total_flops()
