"""Frozen features: run an encoder over K clips (× S crops) per video and keep per-view pooled features."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from tqdm import tqdm

from vssl.data.loader import VideoClipDataset, make_loader
from vssl.evaluation.taps import global_average


@torch.no_grad()
def _extract(outputs_of: Callable[[torch.Tensor], dict[str, torch.Tensor]], dataset: VideoClipDataset,
             batch_size: int, num_workers: int, progress: bool, desc: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """→ ({name: [N, V, D] in dataset order}, paths of videos skipped as unreadable); skipped rows are NaN."""
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers)
    features: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for batch in tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False):
        skipped.extend(batch["skipped"])
        clips = batch["clips"]
        if clips.numel() == 0:
            continue
        b, v = clips.shape[:2]
        for name, out in outputs_of(clips.flatten(0, 1)).items():
            out = out.view(b, v, -1).float()
            if name not in features:
                features[name] = torch.full((len(dataset), v, out.shape[-1]), float("nan"))
            features[name][batch["index"]] = out
    if not features:
        raise RuntimeError("no readable video in the evaluation set")
    return features, skipped


def extract_clip_features(encoder: nn.Module, dataset: VideoClipDataset, batch_size: int, num_workers: int,
                          progress: bool = True, desc: str = "features") -> tuple[torch.Tensor, list[str]]:
    """→ (encoder outputs [N, V, D] in dataset order, paths of videos skipped as unreadable).

    Rows of skipped videos are NaN; callers drop them with :func:`readable_rows`.
    """
    encoder.eval()
    features, skipped = _extract(lambda x: {"out": encoder(x)}, dataset, batch_size, num_workers, progress, desc)
    return features["out"], skipped


def extract_tap_features(encoder: nn.Module, dataset: VideoClipDataset, taps: list[str], batch_size: int,
                         num_workers: int, progress: bool = True,
                         desc: str = "features") -> tuple[dict[str, torch.Tensor], list[str]]:
    """All ``taps`` in one pass: → ({tap: [N, V, D] globally average-pooled}, skipped paths); NaN rows as above."""
    encoder.eval()

    def outputs_of(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: global_average(out) for name, out in encoder.features(x, taps).items()}

    return _extract(outputs_of, dataset, batch_size, num_workers, progress, desc)


def readable_rows(features: torch.Tensor) -> torch.Tensor:
    """Boolean mask of videos whose features were extracted."""
    return ~features.flatten(1).isnan().any(dim=1)
