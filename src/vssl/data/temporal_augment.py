"""Seed 001's temporal augmentation variants (Table 7): grayscale frame differences and frame-rate jitter."""

from __future__ import annotations

import torch

from vssl.data.transforms import VideoTransform, _coin, _probability, to_grayscale


def temporal_difference(video: torch.Tensor) -> torch.Tensor:
    """Grayscale, then differences between consecutive frames: frame t becomes gray[t + 1] - gray[t].

    The last frame has no successor and repeats the last difference, so a clip keeps its T frames (and its
    shape [3, T, H, W]; the difference is copied onto all three channels).
    """
    gray = to_grayscale(video)
    if video.shape[1] == 1:
        return torch.zeros_like(video)
    diff = gray[:, 1:] - gray[:, :-1]
    return torch.cat([diff, diff[:, -1:]], dim=1).expand_as(video).contiguous()


class RandomTemporalDifference(VideoTransform):
    """With probability ``p`` (seed 001 Table 7: 0.2) replaces the clip by its grayscale frame differences.

    Put it after the colour augmentations and before normalisation: the differences of a static scene are 0,
    whatever its colours.
    """

    def __init__(self, p: float = 0.2):
        self.p = _probability(p)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return temporal_difference(video) if _coin(self.p, generator) else video
