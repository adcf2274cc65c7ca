"""ρSwAV (Feichtenhofer et al. 2021): cluster assignments (Sinkhorn codes) of one clip are predicted from the other clips."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vssl.core.config import ranged
from vssl.methods.base import Method, RhoClipsConfig
from vssl.methods.losses import normalize, swav_loss
from vssl.models.heads import mlp_head


@dataclass
class RhoSwAVConfig(RhoClipsConfig):
    temperature: float = ranged(0.1, gt=0)  # α, Feichtenhofer et al. 2021 §B.1
    num_prototypes: int = ranged(1000, ge=1)  # Feichtenhofer et al. 2021 [code]
    sinkhorn_iterations: int = ranged(3, ge=1)  # Feichtenhofer et al. 2021 §B.1
    epsilon: float = ranged(0.05, gt=0)  # Feichtenhofer et al. 2021 §B.1
    freeze_prototypes_epochs: int = ranged(1, ge=0)  # Feichtenhofer et al. 2021 §B.1: prototypes frozen for the first epoch
    proj_dim: int = ranged(128, ge=1)  # Feichtenhofer et al. 2021 §B.1
    proj_hidden: int = ranged(2048, ge=1)  # Feichtenhofer et al. 2021 Table 16: 3-layer MLP with BN
    proj_layers: int = ranged(3, ge=1)


class RhoSwAV(Method):
    """All clips are embedded in parallel (memory grows with ρ); prototypes are re-normalised every step."""

    def __init__(self, backbone, config: RhoSwAVConfig, optim):
        super().__init__(backbone, config, optim)
        self.head = mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, config.proj_layers, True)
        self.prototypes = nn.Linear(config.proj_dim, config.num_prototypes, bias=False)

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        batch, num_views = views.shape[:2]
        with torch.no_grad():
            self.prototypes.weight.copy_(normalize(self.prototypes.weight))
        embeddings = normalize(self.head(self.backbone(views.flatten(0, 1))))
        with torch.autocast(views.device.type, enabled=False):  # cosines to the prototypes in fp32, as the loss
            scores = self.prototypes(embeddings).view(batch, num_views, -1)
        # under DDP the Sinkhorn codes are normalised over the global batch (losses.sinkhorn_knopp, Feichtenhofer et al. 2021 §B.1)
        loss = swav_loss(scores, self.config.temperature, self.config.epsilon, self.config.sinkhorn_iterations)
        self.manual_backward(loss)
        if self.current_epoch < self.config.freeze_prototypes_epochs:
            self.prototypes.weight.grad = None  # the optimiser skips parameters without a gradient
        return loss.detach()
