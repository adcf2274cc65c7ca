"""Pretext-Contrast (Tao, Wang & Yamasaki 2022, "Pretext-Contrastive Learning"; in Thoker 2023's SEVERE set): a
pretext task and instance contrast trained together, L = L_pretext + λ·L_contrast. Here the pretext task is VCOP's
clip order (Xu et al. 2019), as in the paper's VCOP+PCL variant; the contrast treats the tuple's clips of one video
as positives of each other and every clip of the other videos in the batch as negatives (InfoNCE at τ on an MLP
projection of the same backbone features). λ = 1 and τ = 0.2 are [vssl defaults]: the paper's exact values were not
available offline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vssl.core.config import ranged
from vssl.methods.losses import normalize
from vssl.methods.rho_simclr import simclr_loss
from vssl.methods.vcop import VCOP, VCOPConfig, order_labels
from vssl.models.heads import mlp_head


@dataclass
class PretextContrastConfig(VCOPConfig):
    contrast_weight: float = ranged(1.0, ge=0)  # λ [vssl default]
    temperature: float = ranged(0.2, gt=0)  # [vssl default]
    proj_dim: int = ranged(128, ge=1)
    proj_hidden: int = ranged(512, ge=1)


class PretextContrast(VCOP):
    """VCOP's backbone, pair and order heads, plus a projection head for the contrast."""

    def __init__(self, backbone, config: PretextContrastConfig, optim):
        super().__init__(backbone, config, optim)
        self.projection = mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, 2, True)

    def train_batch(self, batch: dict) -> torch.Tensor:
        clips = batch["clips"]  # [B, N, C, T, H, W]
        labels = order_labels(batch["frames"]).to(clips.device)
        features = self.backbone(clips.flatten(0, 1))
        logits = self.order_logits(features.view(clips.shape[0], clips.shape[1], -1))
        pretext = F.cross_entropy(logits, labels)
        embeddings = normalize(self.projection(features)).view(clips.shape[0], clips.shape[1], -1)
        contrast = simclr_loss(embeddings.float(), self.config.temperature)
        loss = pretext + self.config.contrast_weight * contrast
        self.manual_backward(loss)
        self.log_pretext(logits, labels, loss)
        return loss.detach()
