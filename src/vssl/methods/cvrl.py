"""CVRL (Qian et al. 2021): InfoNCE between two clips of one video, their temporal gap drawn from a decreasing
distribution over the video, each clip augmented consistently over its frames (one crop, flip and colour jitter for
the whole clip); the clips of the other videos in the batch are the negatives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vssl.core.config import ranged
from vssl.data.sampling import _StridedClipSampler
from vssl.methods.pretext_common import reject_fps_jitter
from vssl.methods.rho_simclr import RhoSimCLR


@dataclass
class CVRLConfig:
    temperature: float = ranged(0.1, gt=0)  # Qian et al. 2021 §4.1
    proj_dim: int = ranged(128, ge=1)  # Qian et al. 2021 §4.1: 3-layer MLP head to 128-d
    proj_hidden: int = ranged(2048, ge=1)
    proj_layers: int = ranged(3, ge=1)
    # P(gap = t) ∝ 1 − (t / (T + 1))^gap_power over t = 0 … T, the largest gap the video allows: Qian et al. 2021
    # §3.2 and Fig. 3 compare P(t) ∝ c − t^a for a = 0.5, 1, 2 (all decreasing beat uniform); 1 is linear decrease
    gap_power: float = ranged(1.0, gt=0)
    multi_positive: str = "sum"  # one positive per query: "sum" and "rows" agree


class DecreasingGapSampler(_StridedClipSampler):
    """Two clips of ``clip_len`` frames at ``stride``: a gap t between their starts from P(t) ∝ 1 − (t/(T+1))^power
    (T = the largest gap that fits), then the first start uniform over the starts that leave room for it."""

    num_clips = 2

    def __init__(self, clip_len: int, stride: int, power: float):
        super().__init__(clip_len, stride)
        self.power = power

    def gap_probabilities(self, num_frames: int) -> np.ndarray:
        """P(gap = t) for t = 0 … max_start."""
        largest = self.max_start(num_frames)
        weights = 1.0 - (np.arange(largest + 1) / (largest + 1)) ** self.power
        return weights / weights.sum()

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        probabilities = self.gap_probabilities(num_frames)
        gap = int(rng.choice(len(probabilities), p=probabilities))
        first = int(rng.integers(0, self.max_start(num_frames) - gap + 1))
        return self.clips_at([first, first + gap], num_frames)


class CVRL(RhoSimCLR):
    """ρSimCLR's InfoNCE over the two clips (positives: the other clip of the same video), fed by the decreasing-gap
    sampler."""

    @classmethod
    def build_sampler(cls, config, data):
        reject_fps_jitter("cvrl", data)
        return DecreasingGapSampler(data.clip_len, data.stride, config.gap_power)

    @classmethod
    def views_per_clip(cls, config) -> int:
        return 1
