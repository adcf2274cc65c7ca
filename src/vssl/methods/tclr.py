"""TCLR (Dave et al. 2022; in Thoker 2023's SEVERE set): temporal contrast within a video on top of instance contrast.

A video gives ``windows`` consecutive non-overlapping local clips and one global clip over the same span (the same
number of frames, ``windows`` times sparser). Every local clip is seen in two augmentations.
- Instance contrast (IC): the two views of the first local clip are positives, the other videos' are negatives.
- Local-local (LL): each local clip's two views are positives, the other local clips of the video negatives
  (:func:`vssl.methods.tdl.tdl_loss`).
- Global-local (GL): the global clip's feature map at ``global_tap``, pooled over space and into ``windows`` time
  segments, matches each segment to the local clip of that time against the video's other local clips.
Loss = IC + LL + GL (equal weights, as the paper), InfoNCE at τ = 0.1 on MLP projections; the global segments have a
linear projection of their own, since ``global_tap`` (default layer3, which keeps time at 8-frame clips) has its own
width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.data.sampling import _StridedClipSampler, clip_indices
from vssl.methods.base import Method
from vssl.methods.losses import info_nce, normalize
from vssl.methods.pretext_common import reject_fps_jitter
from vssl.methods.rho_simclr import simclr_loss
from vssl.methods.tdl import tdl_loss
from vssl.models.heads import mlp_head


@dataclass
class TCLRConfig:
    windows: int = ranged(4, ge=2)  # local clips per video (Dave et al. 2022: 4)
    temperature: float = ranged(0.1, gt=0)  # Dave et al. 2022: τ = 0.1
    global_tap: str = "layer3"  # where the global clip keeps enough time for the segments
    proj_dim: int = ranged(128, ge=1)
    proj_hidden: int = ranged(512, ge=1)


class LocalGlobalSampler(_StridedClipSampler):
    """``windows`` consecutive clips of ``clip_len`` frames at ``stride``, then one clip of ``clip_len`` frames at
    ``windows`` × ``stride`` spanning them all; the span starts uniformly where it fits (at 0 otherwise)."""

    def __init__(self, clip_len: int, stride: int, windows: int):
        super().__init__(clip_len, stride)
        self.windows = windows
        self.num_clips = windows + 1

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        local = self.clip_len * self.stride  # frames a local clip occupies before the next one starts
        total = self.windows * local
        start = int(rng.integers(0, max(num_frames - total, 0) + 1))
        clips = [clip_indices(start + k * local, self.clip_len, self.stride, num_frames) for k in range(self.windows)]
        return clips + [clip_indices(start, self.clip_len, self.stride * self.windows, num_frames)]


def global_local_loss(segments: torch.Tensor, local: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean InfoNCE of every global segment [B, W, d] against the local clip of its time (positive) and the video's
    other local clips (negatives), local [B, W, d]; unit rows."""
    windows = segments.shape[1]
    terms = []
    for w in range(windows):
        others = [j for j in range(windows) if j != w]
        terms.append(info_nce(segments[:, w], local[:, w, None], local[:, others], temperature))
    return torch.stack(terms).mean()


def tap_width(backbone: nn.Module, tap: str) -> int:
    """Channels of a backbone tap, from one tiny forward pass in eval mode (BatchNorm statistics untouched)."""
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        width = backbone.features(torch.zeros(1, 3, 8, 32, 32), tap)[tap].shape[1]
    backbone.train(was_training)
    return int(width)


class TCLR(Method):
    def __init__(self, backbone, config: TCLRConfig, optim):
        if config.global_tap not in backbone.tap_names:
            raise ConfigError(f"method.global_tap={config.global_tap!r}: {type(backbone).__name__} has taps "
                              f"{', '.join(backbone.tap_names)}")
        super().__init__(backbone, config, optim)
        self.head = mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, 2, True)
        self.global_head = nn.Linear(tap_width(backbone, config.global_tap), config.proj_dim)

    @classmethod
    def build_sampler(cls, config, data):
        reject_fps_jitter("tclr", data)
        return LocalGlobalSampler(data.clip_len, data.stride, config.windows)

    @classmethod
    def views_per_clip(cls, config) -> int:
        return 2

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        batch, windows = views.shape[0], self.config.windows
        local_views = views[:, :2 * windows]  # clip-major: clip k's views at 2k, 2k + 1
        local = normalize(self.head(self.backbone(local_views.flatten(0, 1)))).view(batch, windows, 2, -1)
        global_map = self.backbone.features(views[:, 2 * windows], self.config.global_tap)[self.config.global_tap]
        over_time = global_map.mean(dim=(3, 4))  # [B, C, T']
        pooled = F.adaptive_avg_pool1d(over_time, windows).transpose(1, 2)  # [B, W, C]
        segments = normalize(self.global_head(pooled))
        loss = (simclr_loss(local[:, 0], self.config.temperature)
                + tdl_loss(local, self.config.temperature)
                + global_local_loss(segments, local[:, :, 0], self.config.temperature))
        self.manual_backward(loss)
        return loss.detach()
