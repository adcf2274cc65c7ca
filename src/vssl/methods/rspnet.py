"""RSPNet (Chen et al. 2021): relative speed perception plus appearance-focused instance discrimination (A-VID).

Two clips q and k of one video, each spanning ``fast_speed`` × T frames. Half the videos of a batch (drawn per step)
play both at the normal speed (their first T frames), the other half at ``fast_speed`` (every fast_speed-th frame);
k̄ is k at the other speed. Two linear heads on the backbone's pooled features give unit embeddings for A-VID (a)
and for speed (m); keys come from a momentum encoder.
- A-VID: InfoNCE of a(q) with a(k) as the positive, and again with a(k̄), against a MoCo queue of a(k̄) keys: clips
  of one video are positives whatever their speeds, so the task is about appearance.
- RSP: margin ranking, m(q)·m(k)/τ > m(q)·m(k̄)/τ + margin: a clip is closer to a clip at its own speed.
Loss = A·A-VID + M·RSP. Settings are the authors' released recipe (PeihaoChen/RSPNet: moco-train-base.jsonnet,
loss_lambda.libsonnet and pretrain.py): τ 0.07, queue 16,384, momentum 0.999, 128-d linear heads, speeds 1 and 2,
margin 2.0, A = M = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.data.sampling import RhoClipSampler
from vssl.methods.distributed import concat_all_gather
from vssl.methods.losses import info_nce, normalize
from vssl.methods.pretext_common import reject_fps_jitter
from vssl.methods.rho_moco import ConstantMomentumMoCo


@dataclass
class RSPNetConfig:
    temperature: float = ranged(0.07, gt=0)  # released recipe: moco.t
    queue_size: int = ranged(16384, ge=1)  # moco.k
    momentum: float = ranged(0.999, ge=0, le=1)  # moco.m, constant
    proj_dim: int = ranged(128, ge=1)  # moco.dim, one linear head per task (fc_type: linear)
    fast_speed: int = ranged(2, ge=2)  # moco.diff_speed: [2]
    margin: float = ranged(2.0, ge=0)  # pretrain.py: Loss(margin=2.0)
    avid_weight: float = ranged(1.0, ge=0)  # loss_lambda.A
    rsp_weight: float = ranged(1.0, ge=0)  # loss_lambda.M
    shuffle_bn_groups: int = ranged(4, ge=1)  # keys' shuffling BN, as ρMoCo


class TwoHeads(nn.Module):
    """Linear A-VID and speed heads on one feature vector; → their outputs side by side [N, 2·dim]."""

    def __init__(self, feature_dim: int, dim: int):
        super().__init__()
        self.appearance = nn.Linear(feature_dim, dim)
        self.speed = nn.Linear(feature_dim, dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.appearance(features), self.speed(features)], dim=1)


def split_heads(embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, 2·dim] → the unit A-VID and speed embeddings [N, dim] each."""
    appearance, speed = embeddings.chunk(2, dim=1)
    return normalize(appearance), normalize(speed)


def at_speeds(clips: torch.Tensor, fast: torch.Tensor, speed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips [B, C, speed·T, H, W] → (each at its own speed, each at the other one) [B, C, T, H, W]: videos with
    ``fast`` play every speed-th frame, the others their first T frames."""
    frames = clips.shape[2] // speed
    normal = clips[:, :, :frames]
    quick = clips[:, :, 0:frames * speed:speed]
    mask = fast.view(-1, 1, 1, 1, 1)
    return torch.where(mask, quick, normal), torch.where(mask, normal, quick)


def rspnet_loss(query_a, query_m, key_a, key_m, other_a, other_m, queue, config: RSPNetConfig) -> torch.Tensor:
    """A·(InfoNCE(a(q); a(k)) + InfoNCE(a(q); a(k̄))) + M·mean max(0, margin − (m(q)·m(k) − m(q)·m(k̄))/τ), all
    embeddings unit rows [N, d], ``queue`` [K, d] the A-VID negatives."""
    tau = config.temperature
    avid = info_nce(query_a, key_a[:, None], queue, tau) + info_nce(query_a, other_a[:, None], queue, tau)
    same, other = (query_m * key_m).sum(dim=1) / tau, (query_m * other_m).sum(dim=1) / tau
    rsp = F.margin_ranking_loss(same, other, torch.ones_like(same), margin=config.margin)
    return config.avid_weight * avid + config.rsp_weight * rsp


class RSPNet(ConstantMomentumMoCo):
    """The query is clip 0 of each video, the keys clip 1 at the query's speed and at the other one."""

    def __init__(self, backbone, config: RSPNetConfig, optim):
        super().__init__(backbone, config, optim, TwoHeads(backbone.feature_dim, config.proj_dim))

    @classmethod
    def build_sampler(cls, config, data):
        """Two clips of fast_speed × clip_len frames at data.stride, at independent random times."""
        reject_fps_jitter("rspnet", data)
        return RhoClipSampler(data.clip_len * config.fast_speed, data.stride, rho=2)

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        batch = views.shape[0]
        self.update_keys(self.config.momentum)
        generator = torch.Generator().manual_seed(self.global_step)  # a function of the step: resumable
        fast = torch.zeros(batch, dtype=torch.bool)
        fast[torch.randperm(batch, generator=generator)[batch // 2:]] = True
        fast = fast.to(views.device)
        query, _ = at_speeds(views[:, 0], fast, self.config.fast_speed)
        key, other = at_speeds(views[:, 1], fast, self.config.fast_speed)
        with torch.no_grad():
            key_a, key_m = split_heads(self.shuffled_embeddings(key))
            other_a, other_m = split_heads(self.shuffled_embeddings(other))
        query_a, query_m = split_heads(self.head(self.backbone(query)))
        loss = rspnet_loss(query_a, query_m, key_a, key_m, other_a, other_m, self.queue.clone(), self.config)
        self.manual_backward(loss)
        self._pending_keys = concat_all_gather(other_a)  # the released code enqueues a(k̄)
        return loss.detach()
