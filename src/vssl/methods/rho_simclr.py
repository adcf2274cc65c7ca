"""ρSimCLR (Feichtenhofer et al. 2021): the other clips of a video are positives; all clips of the other videos are negatives."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vssl.core.config import ranged
from vssl.methods.base import Method, RhoClipsConfig
from vssl.methods.distributed import gather_with_grad, rank_offset
from vssl.methods.losses import info_nce, normalize
from vssl.models.heads import mlp_head


@dataclass
class RhoSimCLRConfig(RhoClipsConfig):
    temperature: float = ranged(0.1, gt=0)  # Feichtenhofer et al. 2021 §B.1
    proj_dim: int = ranged(128, ge=1)  # Feichtenhofer et al. 2021 §B.1
    proj_hidden: int = ranged(2048, ge=1)  # Feichtenhofer et al. 2021 Table 16: 3-layer MLP, hidden 2048, with BN
    proj_layers: int = ranged(3, ge=1)
    multi_positive: str = "sum"  # Eq. 1 sums the positives in the numerator; "rows" = one row per positive


class RhoSimCLR(Method):
    """All ρ·B clips are embedded in parallel (memory grows with ρ, Feichtenhofer et al. 2021 §3); each is once the query."""

    def __init__(self, backbone, config: RhoSimCLRConfig, optim):
        super().__init__(backbone, config, optim)
        self.head = mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, config.proj_layers, True)

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        batch, num_views = views.shape[:2]
        embeddings = normalize(self.head(self.backbone(views.flatten(0, 1)))).view(batch, num_views, -1)
        everyone = gather_with_grad(embeddings)  # negatives from the global batch (Feichtenhofer et al. 2021 §B.1)
        loss = simclr_loss(embeddings, self.config.temperature, self.config.multi_positive, everyone,
                           rank_offset(batch, views.device))
        self.manual_backward(loss)
        return loss.detach()


def simclr_loss(embeddings: torch.Tensor, temperature: float, multi_positive: str = "sum",
                everyone: torch.Tensor | None = None, first_video: int = 0) -> torch.Tensor:
    """Mean over this process's B·V clips of InfoNCE with the clip's V−1 sibling clips as positives and all clips
    of the other videos in the global batch as negatives.

    ``embeddings`` [B, V, d], L2-normalised: this process's videos. ``everyone`` [N, V, d]: the videos of all
    processes (default: ``embeddings``, i.e. one process), in which this process's videos start at row
    ``first_video``; each query has (N−1)·V negatives.
    """
    everyone = embeddings if everyone is None else everyone
    batch, num_views, dim = embeddings.shape
    total = everyone.shape[0]
    candidates = everyone.reshape(total * num_views, dim)
    video_of = torch.arange(total, device=embeddings.device).repeat_interleave(num_views)
    own_video = torch.arange(first_video, first_video + batch, device=embeddings.device)
    other_videos = video_of[None, :] != own_video[:, None]  # [B, N·V]
    negatives = candidates[None].expand(batch, -1, -1)[other_videos].view(batch, (total - 1) * num_views, dim)
    losses = []
    for query_index in range(num_views):
        others = [j for j in range(num_views) if j != query_index]
        losses.append(info_nce(embeddings[:, query_index], embeddings[:, others], negatives, temperature,
                               multi_positive))
    return torch.stack(losses).mean()
