"""TDL, temporal discriminative learning (Wang, Jiao & Liu 2020, as benchmarked by Kumar et al. 2023): temporal
triplets whose negatives come from the same video.

A video is cut into ``windows`` equal segments and one clip is drawn in each (TSN-style). Every clip is augmented
twice, each time with one set of parameters for all its frames (temporally consistent): the anchor and its positive
show the same window. The negatives of an anchor are the other windows of its video, so what tells them apart is
when, not what: the loss is InfoNCE in the form of the paper's temporal-aware contrastive loss,
−log(e^{s(a,p)/τ} / (e^{s(a,p)/τ} + Σ_n e^{s(a,n)/τ})), on cosine similarities of an MLP projection.
``cross_video_negatives`` adds the clips of the other videos of the batch. TDL's own code and supplement were not
available offline: τ and the number of windows are vssl defaults (marked below), not the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vssl.core.config import ranged
from vssl.data.sampling import _StridedClipSampler
from vssl.methods.base import Method
from vssl.methods.losses import info_nce, normalize
from vssl.methods.pretext_common import reject_fps_jitter
from vssl.models.heads import mlp_head


@dataclass
class TDLConfig:
    windows: int = ranged(4, ge=2)  # [vssl default] clips (temporal windows) per video: 1 anchor window + negatives
    temperature: float = ranged(0.1, gt=0)  # [vssl default], as CVRL and ρSimCLR
    cross_video_negatives: bool = False  # TDL's triplets are within one video
    proj_dim: int = ranged(128, ge=1)
    proj_hidden: int = ranged(2048, ge=1)
    proj_layers: int = ranged(2, ge=1)


class WindowSampler(_StridedClipSampler):
    """One clip of ``clip_len`` frames at ``stride`` in each of ``windows`` equal segments of the valid starts, its
    start uniform over that segment's integer starts (a video too short for distinct windows repeats the last)."""

    def __init__(self, clip_len: int, stride: int, windows: int):
        super().__init__(clip_len, stride)
        self.num_clips = self.windows = windows

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        last = self.max_start(num_frames)
        edges = np.ceil(np.linspace(0, last + 1, self.windows + 1)).astype(int)  # window w: edges[w] ≤ s < edges[w+1]
        starts = [min(int(rng.integers(low, max(high, low + 1))), last) for low, high in zip(edges[:-1], edges[1:])]
        return self.clips_at(starts, num_frames)


def tdl_loss(embeddings: torch.Tensor, temperature: float, cross_video_negatives: bool = False) -> torch.Tensor:
    """Mean InfoNCE over every window's two views [B, W, 2, d] (unit rows), each view once the anchor: the positive
    is the other view of its window, the negatives the other windows of its video (in the other view), plus, with
    ``cross_video_negatives``, every clip of the other videos."""
    batch, windows = embeddings.shape[:2]
    losses = []
    for anchor_view in (0, 1):
        anchors, positives = embeddings[:, :, anchor_view], embeddings[:, :, 1 - anchor_view]
        for w in range(windows):
            others = [j for j in range(windows) if j != w]
            negatives = positives[:, others]  # [B, W−1, d]
            if cross_video_negatives and batch > 1:
                everyone = embeddings.flatten(1, 2)  # [B, 2W, d]
                foreign = torch.stack([torch.cat([everyone[j] for j in range(batch) if j != b]) for b in range(batch)])
                negatives = torch.cat([negatives, foreign], dim=1)
            losses.append(info_nce(anchors[:, w], positives[:, w, None], negatives, temperature))
    return torch.stack(losses).mean()


class TDL(Method):
    """Backbone + MLP projection; every clip is seen in two temporally consistent augmentations."""

    def __init__(self, backbone, config: TDLConfig, optim):
        super().__init__(backbone, config, optim)
        self.head = mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, config.proj_layers, True)

    @classmethod
    def build_sampler(cls, config, data):
        reject_fps_jitter("tdl", data)
        return WindowSampler(data.clip_len, data.stride, config.windows)

    @classmethod
    def views_per_clip(cls, config) -> int:
        return 2

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        batch, count = views.shape[:2]  # count = windows × 2, clip-major
        embeddings = normalize(self.head(self.backbone(views.flatten(0, 1)))).view(batch, count // 2, 2, -1)
        loss = tdl_loss(embeddings, self.config.temperature, self.config.cross_video_negatives)
        self.manual_backward(loss)
        return loss.detach()
