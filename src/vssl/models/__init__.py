"""Video backbones: ``create`` (build, optionally load weights), ``list_models``, ``summary``, ``EncoderSpec``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vssl.models.checkpoints import LoadReport, load_pretrained
from vssl.models.registry import VideoBackbone, build_backbone, count_flops, count_parameters, list_backbones
from vssl.models.spec import EncoderSpec


@dataclass(frozen=True)
class ModelSummary:
    """One backbone at its default size: parameters (no head), GFLOPs (2 × MACs) and feature size at its default
    input of ``frames`` × ``size``², and its feature taps."""

    name: str
    parameters: int
    gflops: float
    feature_dim: int
    frames: int
    size: int
    taps: tuple[str, ...]

__all__ = ["EncoderSpec", "LoadReport", "ModelSummary", "VideoBackbone", "build_backbone", "create", "list_models",
           "load_pretrained", "summary"]


def list_models() -> list[str]:
    """Backbone names accepted by ``create``, sorted."""
    return list_backbones()


def create(name: str, pretrained: str | Path | None = None, strict: bool = False, **kwargs) -> nn.Module:
    """Build backbone ``name`` with its options (``width``, ``depth``, ``num_classes``, ...); with ``pretrained``,
    load that file's weights (vssl's, torchvision's, PySlowFast's, pytorchvideo's, VideoMAE's, mmaction's or a
    SEVERE-repo wrapper's; see ``load_pretrained``) and print its one-line key report."""
    model = build_backbone(name, **kwargs)
    if pretrained is not None:
        print(load_pretrained(model, pretrained, strict=strict).summary())
    return model


def summary() -> list[ModelSummary]:
    """Every backbone of ``list_models`` with its size and taps (`vssl models`), built on the meta device: shapes
    only, nothing allocated or computed."""
    rows = []
    for name in list_models():
        with torch.device("meta"):
            model = build_backbone(name)
            frames, size = model.default_input
            gflops = count_flops(model, frames, size) / 1e9
        rows.append(ModelSummary(name, count_parameters(model), gflops, model.feature_dim, frames, size,
                                 tuple(model.tap_names)))
    return rows
