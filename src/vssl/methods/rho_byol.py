"""ρBYOL (Feichtenhofer et al. 2021): predict the momentum encoder's projection of the other ρ−1 clips of the same video."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vssl.core.config import ranged
from vssl.methods.base import Method, RhoClipsConfig
from vssl.methods.losses import byol_loss, cosine_momentum
from vssl.models.heads import mlp_head


@dataclass
class RhoBYOLConfig(RhoClipsConfig):
    momentum: float = ranged(0.996, ge=0, le=1)  # m_base, cosine-annealed to 1 (Feichtenhofer et al. 2021 §B.1)
    proj_dim: int = ranged(256, ge=1)  # Feichtenhofer et al. 2021 §B.1
    proj_hidden: int = ranged(4096, ge=1)  # Feichtenhofer et al. 2021 Table 16: 2-layer projection and predictor MLPs, hidden 4096, with BN
    proj_layers: int = ranged(2, ge=1)
    pred_hidden: int = ranged(4096, ge=1)
    pred_layers: int = ranged(2, ge=1)


class RhoBYOL(Method):
    """Every clip is once the query; its prediction regresses the targets of the other clips of its video."""

    def __init__(self, backbone, config: RhoBYOLConfig, optim):
        super().__init__(backbone, config, optim)
        self.head = mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, config.proj_layers, True)
        self.predictor = mlp_head(config.proj_dim, config.pred_hidden, config.proj_dim, config.pred_layers, True)
        self.target_backbone = self.momentum_copy(self.backbone)
        self.target_head = self.momentum_copy(self.head)

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        batch, num_views = views.shape[:2]
        momentum = cosine_momentum(self.config.momentum, self.global_step, self.total_steps)
        self.momentum_update(self.backbone, self.target_backbone, momentum)
        self.momentum_update(self.head, self.target_head, momentum)
        with torch.no_grad():  # one clip position at a time, so memory stays that of B clips whatever ρ is
            targets = torch.stack([self.target_head(self.target_backbone(views[:, j])) for j in range(num_views)],
                                  dim=1)
        total = views.new_zeros(())
        for query_index in range(num_views):  # sequential: peak memory of one clip (Feichtenhofer et al. 2021 §3)
            prediction = self.predictor(self.head(self.backbone(views[:, query_index])))
            others = [j for j in range(num_views) if j != query_index]
            loss = byol_loss(prediction, targets[:, others]) / num_views
            self.manual_backward(loss)
            total = total + loss.detach()
        self.log("train/momentum", momentum, on_step=True, on_epoch=False, batch_size=batch)
        return total
