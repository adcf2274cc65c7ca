"""Frozen features: run an encoder over K clips (× S crops) per video and keep per-view pooled features."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from tqdm import tqdm

from vssl.core.runtime import Placement
from vssl.data.loader import VideoClipDataset, make_loader
from vssl.evaluation.taps import global_average

Outputs = Callable[[torch.Tensor], dict[str, torch.Tensor]]


@torch.no_grad()
def batch_features(outputs_of: Outputs, clips: torch.Tensor, placement: Placement) -> dict[str, torch.Tensor]:
    """Clips [B, V, C, T, H, W] → {name: [B, V, D] fp32 on the CPU}, computed on the placement's device (autocast)."""
    b, v = clips.shape[:2]
    with placement.autocast():
        outputs = outputs_of(placement.tensor(clips.flatten(0, 1)))
    return {name: placement.host(out.float()).reshape(b, v, -1) for name, out in outputs.items()}


@torch.no_grad()
def _extract(outputs_of: Outputs, dataset: VideoClipDataset, batch_size: int, num_workers: int, progress: bool,
             desc: str, placement: Placement) -> tuple[dict[str, torch.Tensor], list[str]]:
    """→ ({name: [N, V, D] in dataset order}, paths of videos skipped as unreadable); skipped rows are NaN."""
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers,
                         pin_memory=placement.pin_memory)
    features: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for batch in tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False):
        skipped.extend(batch["skipped"])
        clips = batch["clips"]
        if clips.numel() == 0:
            continue
        v = clips.shape[1]
        for name, out in batch_features(outputs_of, clips, placement).items():
            if name not in features:
                features[name] = torch.full((len(dataset), v, out.shape[-1]), float("nan"))
            features[name][batch["index"]] = out
    if not features:
        raise RuntimeError("no readable video in the evaluation set")
    return features, skipped


def prepare_encoder(encoder: nn.Module, placement: Placement | None) -> Placement:
    """Put ``encoder`` in eval mode on the placement (default: where it already is, fp32); → the placement used."""
    placement = (placement or Placement.of(encoder)).for_model(encoder)
    placement.module(encoder).eval()
    return placement


def extract_clip_features(encoder: nn.Module, dataset: VideoClipDataset, batch_size: int, num_workers: int,
                          progress: bool = True, desc: str = "features",
                          placement: Placement | None = None) -> tuple[torch.Tensor, list[str]]:
    """→ (encoder outputs [N, V, D] on the CPU in dataset order, paths of videos skipped as unreadable).

    The encoder and each batch run on ``placement`` (default: the encoder's own device, fp32). Rows of skipped
    videos are NaN; callers drop them with :func:`readable_rows`.
    """
    placement = prepare_encoder(encoder, placement)
    features, skipped = _extract(lambda x: {"out": encoder(x)}, dataset, batch_size, num_workers, progress, desc,
                                 placement)
    return features["out"], skipped


def extract_tap_features(encoder: nn.Module, dataset: VideoClipDataset, taps: list[str], batch_size: int,
                         num_workers: int, progress: bool = True, desc: str = "features",
                         placement: Placement | None = None) -> tuple[dict[str, torch.Tensor], list[str]]:
    """All ``taps`` in one pass: → ({tap: [N, V, D] globally average-pooled}, skipped paths); placement and NaN
    rows as above."""
    placement = prepare_encoder(encoder, placement)

    def outputs_of(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: global_average(out) for name, out in encoder.features(x, taps).items()}

    return _extract(outputs_of, dataset, batch_size, num_workers, progress, desc, placement)


def readable_rows(features: torch.Tensor) -> torch.Tensor:
    """Boolean mask of videos whose features were extracted."""
    return ~features.flatten(1).isnan().any(dim=1)
