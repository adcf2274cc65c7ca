"""Skeleton contrast (Thoker 2023 Ch. 3): intra-skeleton MoCo between two augmented views of a skeleton sequence, and
inter-skeleton contrast between two representations of it (e.g. sequence and graph) with crossed queues.

Both read skeleton manifests (``.npy`` keypoints, NTU ``.skeleton`` files; :mod:`vssl.data.skeleton`), not videos:
``build_dataset`` gives `vssl pretrain` two augmented views per sequence, [B, 2, 3, T, J, M] (T = ``data.clip_len``).
The query encoder of the first representation (``model.backbone``) is the one saved and evaluated (Thoker 2023
§3.4.3: only f_q^SEQ is evaluated); the partner lives in the Lightning checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.data.formats.ntu_skeleton import CROP_RATIO, JITTERED_JOINTS, SHEAR
from vssl.data.skeleton import SkeletonAugment, SkeletonDataset
from vssl.methods.distributed import concat_all_gather
from vssl.methods.losses import info_nce, normalize
from vssl.methods.queue import push_to_queue, register_queue
from vssl.methods.rho_moco import ConstantMomentumMoCo
from vssl.models.heads import mlp_head
from vssl.models.registry import build_backbone


@dataclass
class IntraSkeletonConfig:
    temperature: float = ranged(0.07, gt=0)  # Thoker 2023 §3.4.2
    queue_size: int = ranged(16384, ge=1)  # Thoker 2023 §3.4.2: 16,384 negatives on NTU-60/120
    momentum: float = ranged(0.999, ge=0, le=1)  # key encoder EMA, MoCo's (He et al. 2020) [code]
    proj_dim: int = ranged(128, ge=1)  # Thoker 2023 §3.4.2: an MLP head to 128-d embeddings
    crop_ratio: tuple[float, float] = ranged(CROP_RATIO, gt=0, le=1)  # l_min = 0.1 (Thoker 2023 §3.4.2, Table A.3)
    jitter_joints: int = ranged(JITTERED_JOINTS, ge=1)  # |j| = 15 (Thoker 2023 §3.4.2, Table A.2)
    shear: float = ranged(SHEAR, ge=0)  # off-diagonals U[−1, 1] (Thoker 2023 §3.3.1.1)

    def __post_init__(self):
        low, high = self.crop_ratio
        if not low <= high:
            raise ConfigError(f"method.crop_ratio={self.crop_ratio!r}: expected (low, high) with low <= high")


@dataclass
class InterSkeletonConfig(IntraSkeletonConfig):
    # the second representation's encoder, same skeleton layout as model.backbone (Thoker 2023 Table 3.6: the
    # sequence + graph pair is best)
    partner: str = "stgcn"
    partner_width: float = ranged(1.0, gt=0)
    partner_depth: tuple[int, ...] | None = ranged(None, ge=1)  # None = the partner's own default


def projection_head(feature_dim: int, proj_dim: int) -> nn.Sequential:
    """Linear(d, d), ReLU, Linear(d, proj_dim): MoCo v2's MLP on the encoder's features (Thoker 2023 §3.4.2 [code])."""
    return mlp_head(feature_dim, feature_dim, proj_dim, 2, False)


def crossed_info_nce(query_a: torch.Tensor, query_b: torch.Tensor, key_a: torch.Tensor, key_b: torch.Tensor,
                     queue_a: torch.Tensor, queue_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Inter-skeleton contrast (Thoker 2023 Eqs. 3.6-3.8) of two representations a and b, rows L2-normalised:

      L = L_a + L_b,   L_a = mean_n −log( e^{q_a·k_b/τ} / (e^{q_a·k_b/τ} + Σ_{n ∈ N_b} e^{q_a·n/τ}) )

    and L_b alike with a and b swapped: each query's positive is the other representation's key of the same
    sequence, its negatives the other representation's queue."""
    return (info_nce(query_a, key_b[:, None], queue_b, temperature)
            + info_nce(query_b, key_a[:, None], queue_a, temperature))


class IntraSkeletonContrast(ConstantMomentumMoCo):
    """MoCo on skeletons (Thoker 2023 §3.3.2, Eq. 3.5): the query encoder sees view 1, the momentum key encoder view
    2; negatives come from a queue of earlier keys. Key encoders, queue and its update are ρMoCo's
    (:class:`ConstantMomentumMoCo`); the keys are embedded as one batch, without its shuffled BN."""

    def __init__(self, backbone, config: IntraSkeletonConfig, optim):
        super().__init__(backbone, config, optim, projection_head(backbone.feature_dim, config.proj_dim))

    @classmethod
    def build_dataset(cls, config: IntraSkeletonConfig, data, samples, seed: int) -> SkeletonDataset:
        """Two augmented views of ``data.clip_len`` frames per sequence (Thoker 2023 Eq. 3.4)."""
        augment = SkeletonAugment(data.clip_len, tuple(config.crop_ratio), config.jitter_joints, config.shear)
        return SkeletonDataset(samples, data.clip_len, augment, views=2, seed=seed)

    @staticmethod
    def embed(backbone: nn.Module, head: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return normalize(head(backbone(x)))

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        self.update_keys(self.config.momentum)
        query = self.embed(self.backbone, self.head, views[:, 0])
        with torch.no_grad():
            key = self.embed(self.key_backbone, self.key_head, views[:, 1])
        loss = info_nce(query, key[:, None], self.queue.clone(), self.config.temperature)
        self.manual_backward(loss)
        self._pending_keys = concat_all_gather(key)  # every process enqueues the global batch
        return loss.detach()


class InterSkeletonContrast(IntraSkeletonContrast):
    """Inter-skeleton contrast (Thoker 2023 §3.3.3, Fig. 3.5): two momentum-contrast models, one per representation
    (``model.backbone`` and ``method.partner``), whose queries meet the other representation's keys and queue."""

    def __init__(self, backbone, config: InterSkeletonConfig, optim):
        super().__init__(backbone, config, optim)
        depth = {} if config.partner_depth is None else {"depth": tuple(config.partner_depth)}
        self.partner = build_backbone(config.partner, width=config.partner_width, **depth)
        if getattr(self.partner, "layout", None) != getattr(backbone, "layout", None):
            raise ConfigError(f"method.partner={config.partner} reads other skeletons than model.backbone "
                              f"({getattr(self.partner, 'layout', None)} vs {getattr(backbone, 'layout', None)})")
        self.partner_head = projection_head(self.partner.feature_dim, config.proj_dim)
        self.key_partner = self.momentum_copy(self.partner)
        self.key_partner_head = self.momentum_copy(self.partner_head)
        register_queue(self, config.queue_size, config.proj_dim, "partner_queue")
        self._pending_partner_keys: torch.Tensor | None = None

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        m = self.config.momentum
        self.update_keys(m)
        self.momentum_update(self.partner, self.key_partner, m)
        self.momentum_update(self.partner_head, self.key_partner_head, m)
        query = self.embed(self.backbone, self.head, views[:, 0])
        partner_query = self.embed(self.partner, self.partner_head, views[:, 0])
        with torch.no_grad():
            key = self.embed(self.key_backbone, self.key_head, views[:, 1])
            partner_key = self.embed(self.key_partner, self.key_partner_head, views[:, 1])
        loss = crossed_info_nce(query, partner_query, key, partner_key, self.queue.clone(),
                                self.partner_queue.clone(), self.config.temperature)
        self.manual_backward(loss)
        self._pending_keys, self._pending_partner_keys = concat_all_gather(key), concat_all_gather(partner_key)
        return loss.detach()

    @torch.no_grad()
    def after_step(self, views: torch.Tensor) -> None:
        super().after_step(views)
        push_to_queue(self.partner_queue, self.partner_queue_pointer, self._pending_partner_keys)
        self._pending_partner_keys = None
