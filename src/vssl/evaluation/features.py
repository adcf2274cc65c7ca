"""Frozen features: run an encoder over K clips per video and keep per-clip pooled features."""

from __future__ import annotations

import torch
from torch import nn
from tqdm import tqdm

from vssl.data.loader import VideoClipDataset, make_loader


@torch.no_grad()
def extract_clip_features(encoder: nn.Module, dataset: VideoClipDataset, batch_size: int, num_workers: int,
                          progress: bool = True, desc: str = "features") -> tuple[torch.Tensor, list[str]]:
    """→ (features [N, K, D] in dataset order, paths of videos skipped as unreadable).

    Rows of skipped videos are NaN; callers drop them with :func:`readable_rows`.
    """
    encoder.eval()
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers)
    features: torch.Tensor | None = None
    skipped: list[str] = []
    for batch in tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False):
        skipped.extend(batch["skipped"])
        clips = batch["clips"]
        if clips.numel() == 0:
            continue
        b, k = clips.shape[:2]
        out = encoder(clips.flatten(0, 1)).view(b, k, -1).float()
        if features is None:
            features = torch.full((len(dataset), k, out.shape[-1]), float("nan"))
        features[batch["index"]] = out
    if features is None:
        raise RuntimeError("no readable video in the evaluation set")
    return features, skipped


def readable_rows(features: torch.Tensor) -> torch.Tensor:
    """Boolean mask of videos whose features were extracted."""
    return ~features.flatten(1).isnan().any(dim=1)
