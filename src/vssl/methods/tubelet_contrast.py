"""Tubelet-contrastive learning (Thoker 2023, Ch. 5): the positive pair is two clips of *different* videos that carry
the same tubelets (patches of the first clip moving identically over both), so the only thing they share is the
tubelets' motion and appearance; negatives are older keys in a MoCo queue. InfoNCE at τ = 0.2 on a 2-layer MLP
projection to 128-d, keys from a momentum encoder. The ablations of the thesis are settings: ``motion`` (static,
linear, non-linear), ``transforms`` over time (none, or scale / rotation / shear) and ``tubelets`` (M = 1, 2, 3); the
temporal-contrast baseline is the preset ``tubelet_temporal_world32`` (ρMoCo's two clips of one video).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.methods.base import OneClipPerVideo
from vssl.methods.distributed import concat_all_gather
from vssl.methods.losses import info_nce, normalize
from vssl.methods.rho_moco import ConstantMomentumMoCo
from vssl.methods.tubelets import MOTIONS, draw_tubelet, paste_tubelet
from vssl.models.heads import mlp_head

TRANSFORMS = ("scale", "rotation", "shear")


@dataclass
class TubeletContrastConfig:
    tubelets: int = ranged(2, ge=1)  # M (Thoker 2023 Ch. 5: 2; the ablation tries 1, 2, 3)
    motion: str = "nonlinear"  # static | linear | nonlinear (the thesis's default: non-linear motion ...)
    transforms: tuple[str, ...] = ("rotation",)  # ... with rotation; any of scale, rotation, shear
    temperature: float = ranged(0.2, gt=0)  # τ = 0.2
    queue_size: int = ranged(16384, ge=1)  # Mini-Kinetics; 65,536 for Kinetics-400
    momentum: float = ranged(0.999, ge=0, le=1)  # MoCo's key-encoder momentum (He et al. 2020), constant
    proj_dim: int = ranged(128, ge=1)  # 2-layer MLP to 128-d
    proj_hidden: int = ranged(2048, ge=1)
    shuffle_bn_groups: int = ranged(4, ge=1)  # keys' shuffling BN, as ρMoCo

    def __post_init__(self):
        self.transforms = tuple(self.transforms)
        if self.motion not in MOTIONS:
            raise ConfigError(f"method.motion={self.motion!r}: expected one of {', '.join(MOTIONS)}")
        unknown = [name for name in self.transforms if name not in TRANSFORMS]
        if unknown:
            raise ConfigError(f"method.transforms: unknown {unknown[0]!r} (valid: {', '.join(TRANSFORMS)})")


def tubelet_pair(first: torch.Tensor, second: torch.Tensor, config: TubeletContrastConfig,
                 rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Copies of clips [C, T, H, W] of two videos with the same ``config.tubelets`` tubelets, all cut from ``first``,
    pasted onto both."""
    first, second = first.clone(), second.clone()
    for _ in range(config.tubelets):
        tubelet = draw_tubelet(rng, first, config.motion, config.transforms)
        paste_tubelet(first, tubelet)
        paste_tubelet(second, tubelet)
    return first, second


class TubeletContrast(OneClipPerVideo, ConstantMomentumMoCo):
    """Query: video b's clip with b's tubelets; its key: video b+1's clip (the batch rolled by one) with the same."""

    def __init__(self, backbone, config: TubeletContrastConfig, optim):
        super().__init__(backbone, config, optim,
                         mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, 2, False))

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        clips = views[:, 0]
        batch = clips.shape[0]
        self.update_keys(self.config.momentum)
        rng = np.random.default_rng(self.global_step)  # a function of the step: resumable
        pairs = [tubelet_pair(clips[b].cpu(), clips[(b + 1) % batch].cpu(), self.config, rng) for b in range(batch)]
        queries = torch.stack([q for q, _ in pairs]).to(clips)
        keys_in = torch.stack([k for _, k in pairs]).to(clips)
        with torch.no_grad():
            keys = self.shuffled_keys(keys_in)
        query = normalize(self.head(self.backbone(queries)))
        loss = info_nce(query, keys[:, None], self.queue.clone(), self.config.temperature)
        self.manual_backward(loss)
        self._pending_keys = concat_all_gather(keys)
        return loss.detach()
