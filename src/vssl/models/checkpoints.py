"""Save and load encoders safely (``torch.load(weights_only=True)``, never full pickle), reporting key mismatches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from vssl.errors import VsslError
from vssl.models.registry import build_backbone

ENCODER_FORMAT = "vssl-encoder-v1"


@dataclass
class LoadReport:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.missing and not self.unexpected:
            return "all keys matched"
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {', '.join(self.missing[:3])})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (e.g. {', '.join(self.unexpected[:3])})")
        return "; ".join(parts)


def save_encoder(path: str | Path, backbone: nn.Module, backbone_name: str, backbone_kwargs: dict) -> None:
    """Write the encoder's weights and how to rebuild it; atomic (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": ENCODER_FORMAT, "backbone": backbone_name,
               "backbone_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in backbone_kwargs.items()},
               "state_dict": {k: v.detach().cpu() for k, v in backbone.state_dict().items()}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise VsslError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for corrupt or unsafe files
        raise VsslError(f"{path}: cannot be read as a weights-only checkpoint ({str(e).splitlines()[0]})") from None


def _encoder_spec(payload: dict, path: Path) -> tuple[str, dict, dict]:
    """(backbone name, kwargs, backbone state dict) from our encoder file or our Lightning checkpoint."""
    if payload.get("format") == ENCODER_FORMAT:
        return payload["backbone"], payload["backbone_kwargs"], payload["state_dict"]
    if "vssl" in payload and "state_dict" in payload:  # a `vssl pretrain` Lightning checkpoint
        spec = payload["vssl"]
        prefix = "backbone."
        state = {k[len(prefix):]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}
        return spec["backbone"], spec["backbone_kwargs"], state
    raise VsslError(f"{path}: not a vssl encoder or pre-training checkpoint (keys: {', '.join(list(payload)[:5])})")


def load_encoder(path: str | Path) -> tuple[nn.Module, str, dict, LoadReport]:
    """Rebuild the backbone stored in ``path`` → (module, backbone name, kwargs, key report)."""
    path = Path(path)
    name, kwargs, state = _encoder_spec(read_checkpoint(path), path)
    backbone = build_backbone(name, **{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})
    result = backbone.load_state_dict(state, strict=False)
    report = LoadReport(list(result.missing_keys), list(result.unexpected_keys))
    return backbone, name, kwargs, report
