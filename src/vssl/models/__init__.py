"""Video backbones: ``create`` (build, optionally load any tool's weights), ``list_models``, ``load_pretrained``."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from vssl.models.checkpoints import LoadReport, load_pretrained
from vssl.models.registry import VideoBackbone, build_backbone, list_backbones

__all__ = ["LoadReport", "VideoBackbone", "build_backbone", "create", "list_models", "load_pretrained"]


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
