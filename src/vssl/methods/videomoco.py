"""VideoMoCo (Pan et al. 2021; in Thoker 2023's SEVERE set): MoCo with adversarial temporal dropout of the query and
a temporal decay of the queue's keys.

- Temporal dropout: a small generator scores every frame of the query clip and the ``drop`` highest-scoring frames
  are zeroed (a straight-through top-k mask). The generator is trained adversarially through a gradient-reversal
  layer: the encoder lowers the contrastive loss, the generator raises it, so it learns to remove the frames the
  encoder relies on most. The paper's generator is a ConvLSTM; here a GRU over per-frame pooled colours (stated).
- Temporal decay: a key that entered the queue ``a`` steps of keys ago weighs decay^a in the softmax denominator
  (Eq. 5 of the paper), since older keys come from an older encoder.
The key is a second clip of the same video, not dropped, from the momentum encoder. Settings marked [vssl default]
could not be checked against the paper offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vssl.core.config import ranged
from vssl.data.sampling import RhoClipSampler
from vssl.methods.distributed import concat_all_gather
from vssl.methods.losses import normalize
from vssl.methods.rho_moco import ConstantMomentumMoCo
from vssl.models.heads import mlp_head


@dataclass
class VideoMoCoConfig:
    drop: float = ranged(0.25, ge=0, lt=1)  # fraction of the query's frames dropped [vssl default]
    decay: float = ranged(0.99, gt=0, le=1)  # temporal decay t per key of age (Pan et al. 2021: t close to 1)
    temperature: float = ranged(0.07, gt=0)  # MoCo (He et al. 2020)
    queue_size: int = ranged(65536, ge=1)  # MoCo
    momentum: float = ranged(0.999, ge=0, le=1)  # MoCo, constant
    proj_dim: int = ranged(128, ge=1)
    proj_hidden: int = ranged(2048, ge=1)
    generator_hidden: int = ranged(32, ge=1)
    shuffle_bn_groups: int = ranged(4, ge=1)  # keys' shuffling BN, as ρMoCo


class ReverseGradient(torch.autograd.Function):
    """Identity forward, negated gradient backward: what follows minimises, what precedes maximises."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class FrameDropper(nn.Module):
    """Scores the frames of clips [B, C, T, H, W] and zeroes the ``round(drop · T)`` highest-scoring ones."""

    def __init__(self, hidden: int, drop: float):
        super().__init__()
        self.drop = drop
        self.gru = nn.GRU(3, hidden, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * hidden, 1)

    def keep_mask(self, clips: torch.Tensor) -> torch.Tensor:
        """[B, T] in {0, 1} forward (1 = kept), with the sigmoid scores' gradient (straight-through)."""
        frames = clips.mean(dim=(3, 4)).transpose(1, 2)  # [B, T, C]
        scores = self.score(self.gru(frames)[0]).squeeze(-1)  # [B, T]
        dropped = int(round(self.drop * clips.shape[2]))
        hard = torch.ones_like(scores)
        if dropped:
            hard.scatter_(1, scores.topk(dropped, dim=1).indices, 0.0)
        soft = 1 - torch.sigmoid(scores)
        return hard + (soft - soft.detach())  # exactly 0 or 1 forward

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        mask = ReverseGradient.apply(self.keep_mask(clips))
        return clips * mask[:, None, :, None, None]


def decayed_info_nce(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, ages: torch.Tensor,
                     temperature: float, decay: float) -> torch.Tensor:
    """Mean −log( e^{q·k/τ} / (e^{q·k/τ} + Σ_i decay^{age_i} e^{q·n_i/τ}) ) over queries [N, d] with their keys
    [N, d] and the queue [K, d] of key ages [K]; unit rows."""
    positive = (query * key).sum(dim=1, keepdim=True) / temperature
    negative = query @ queue.T / temperature + ages[None].to(query) * torch.log(torch.tensor(decay, dtype=query.dtype))
    return (torch.logsumexp(torch.cat([positive, negative], dim=1), dim=1) - positive[:, 0]).mean()


def key_ages(size: int, pointer: int, filled: int) -> torch.Tensor:
    """Age of every queue slot, in keys: the slot just before ``pointer`` holds the newest key (age 0); slots never
    written (``filled`` < size) count as the oldest."""
    slots = torch.arange(size)
    ages = (pointer - 1 - slots) % size
    return torch.where(ages < filled, ages, torch.full_like(ages, size)).float()


class VideoMoCo(ConstantMomentumMoCo):
    """Two clips of each video: the first, temporally dropped, is the query; the second is the key."""

    def __init__(self, backbone, config: VideoMoCoConfig, optim):
        super().__init__(backbone, config, optim,
                         mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, 2, False))
        self.dropper = FrameDropper(config.generator_hidden, config.drop)
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long))

    @classmethod
    def build_sampler(cls, config, data):
        return RhoClipSampler(data.clip_len, data.stride, rho=2)

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        self.update_keys(self.config.momentum)
        with torch.no_grad():
            keys = self.shuffled_keys(views[:, 1])
        query = normalize(self.head(self.backbone(self.dropper(views[:, 0]))))
        ages = key_ages(self.queue.shape[0], int(self.queue_pointer), int(self.queue_filled)).to(query.device)
        loss = decayed_info_nce(query, keys, self.queue.clone(), ages, self.config.temperature, self.config.decay)
        self.manual_backward(loss)
        self._pending_keys = concat_all_gather(keys)
        return loss.detach()

    @torch.no_grad()
    def after_step(self, views: torch.Tensor) -> None:
        self.queue_filled.fill_(min(int(self.queue_filled) + self._pending_keys.shape[0], self.queue.shape[0]))
        super().after_step(views)
