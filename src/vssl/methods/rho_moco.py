"""ρMoCo (Feichtenhofer et al. 2021): ρ clips of one video are positives; keys from a momentum encoder; negatives from a queue."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vssl.core.config import ranged
from vssl.methods.base import Method, RhoClipsConfig
from vssl.methods.distributed import concat_all_gather, is_distributed, shuffle_across_ranks, unshuffle_across_ranks
from vssl.methods.losses import cosine_momentum, info_nce, normalize
from vssl.methods.queue import push_to_queue, register_queue
from vssl.models.heads import mlp_head


@dataclass
class RhoMoCoConfig(RhoClipsConfig):
    temperature: float = ranged(0.1, gt=0)  # Feichtenhofer et al. 2021 §B.1
    queue_size: int = ranged(65536, ge=1)  # Feichtenhofer et al. 2021 §B.1
    momentum: float = ranged(0.994, ge=0, le=1)  # m_base, cosine-annealed to 1 (Feichtenhofer et al. 2021 Table 15)
    proj_dim: int = ranged(128, ge=1)  # Feichtenhofer et al. 2021 §B.1
    proj_hidden: int = ranged(2048, ge=1)  # Feichtenhofer et al. 2021 Table 16: 3-layer MLP, hidden 2048, no BN for MoCo
    proj_layers: int = ranged(3, ge=1)
    proj_batch_norm: bool = False
    multi_positive: str = "rows"  # "rows" = PySlowFast form (one InfoNCE row per positive); "sum" = Eq. 1
    shuffle_bn_groups: int = ranged(4, ge=1)  # one process: keys' BN over random groups of clips (MoCo §3.3); DDP: one per process


class RhoMoCo(Method):
    """Each clip is once the query; keys of the other clips of its video are its positives (symmetric loss)."""

    def __init__(self, backbone, config: RhoMoCoConfig, optim):
        super().__init__(backbone, config, optim)
        if config.multi_positive not in ("rows", "sum"):
            raise ValueError(f"method.multi_positive must be 'rows' or 'sum', got {config.multi_positive!r}")
        self.init_keys(mlp_head(backbone.feature_dim, config.proj_hidden, config.proj_dim, config.proj_layers,
                                config.proj_batch_norm), config.queue_size, config.proj_dim)

    def init_keys(self, head: nn.Module, queue_size: int, dim: int) -> None:
        """The query head, momentum copies of the backbone and the head for the keys, and a queue of ``dim``-d keys."""
        self.head = head
        self.key_backbone = self.momentum_copy(self.backbone)
        self.key_head = self.momentum_copy(self.head)
        register_queue(self, queue_size, dim)
        self._pending_keys: torch.Tensor | None = None

    def update_keys(self, momentum: float) -> None:
        """Move the key backbone and head towards the query's by ``momentum``."""
        self.momentum_update(self.backbone, self.key_backbone, momentum)
        self.momentum_update(self.head, self.key_head, momentum)

    def current_momentum(self) -> float:
        return cosine_momentum(self.config.momentum, self.global_step, self.total_steps)

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        batch, num_views = views.shape[:2]
        momentum = self.current_momentum()
        self.update_keys(momentum)
        with torch.no_grad():
            keys = self.shuffled_keys(views.flatten(0, 1)).view(batch, num_views, -1)
        negatives = self.queue.clone()
        total = views.new_zeros(())
        for query_index in range(num_views):  # sequential: peak memory of one clip (Feichtenhofer et al. 2021 §3)
            query = normalize(self.head(self.backbone(views[:, query_index])))
            others = [j for j in range(num_views) if j != query_index]
            loss = info_nce(query, keys[:, others], negatives, self.config.temperature,
                            self.config.multi_positive) / num_views
            self.manual_backward(loss)
            total = total + loss.detach()
        self._pending_keys = concat_all_gather(keys.flatten(0, 1))  # every process enqueues the global batch
        self.log("train/momentum", momentum, on_step=True, on_epoch=False, batch_size=batch)
        return total

    @torch.no_grad()
    def shuffled_keys(self, clips: torch.Tensor) -> torch.Tensor:
        """L2-normalised key embeddings of ``clips`` (:meth:`shuffled_embeddings`)."""
        return normalize(self.shuffled_embeddings(clips))

    @torch.no_grad()
    def shuffled_embeddings(self, clips: torch.Tensor) -> torch.Tensor:
        """Key embeddings with shuffling BN (MoCo, He et al. 2020 §3.3), so a key's batch statistics do not come
        from the batch its query was normalised with; otherwise the model can tell positives from the queue's
        negatives by batch statistics alone.

        Under DDP the clips of all processes are permuted and each process embeds one share (MoCo's own scheme).
        In one process the clips are permuted and split into ``shuffle_bn_groups`` groups normalised separately.
        """
        generator = torch.Generator().manual_seed(self.global_step)  # a function of the step: resumable
        if is_distributed():
            shuffled, order = shuffle_across_ranks(clips, generator)
            embedded = self.key_head(self.key_backbone(shuffled))
            return unshuffle_across_ranks(embedded, order, clips.shape[0])
        order = torch.randperm(clips.shape[0], generator=generator).to(clips.device)
        groups = min(self.config.shuffle_bn_groups, clips.shape[0] // 2) or 1
        embedded = torch.cat([self.key_head(self.key_backbone(chunk)) for chunk in clips[order].chunk(groups)])
        keys = torch.empty_like(embedded)
        keys[order] = embedded
        return keys

    @torch.no_grad()
    def after_step(self, views: torch.Tensor) -> None:
        """Push every clip's key of the global batch into the queue (PySlowFast [code]), overwriting the oldest
        entries; every process pushes the same keys, so the queues stay identical."""
        push_to_queue(self.queue, self.queue_pointer, self._pending_keys)
        self._pending_keys = None


class ConstantMomentumMoCo(RhoMoCo):
    """Base of the MoCo variants with a constant key momentum (``config.momentum``) and one view per clip: RSPNet,
    tubelet contrast, VideoMoCo, skeleton contrast. Their configs carry ``queue_size``, ``proj_dim``, ``momentum`` and,
    where they call :meth:`shuffled_keys`, ``shuffle_bn_groups``."""

    def __init__(self, backbone, config, optim, head: nn.Module):
        Method.__init__(self, backbone, config, optim)
        self.init_keys(head, config.queue_size, config.proj_dim)

    @classmethod
    def views_per_clip(cls, config) -> int:
        return 1

    def current_momentum(self) -> float:
        return self.config.momentum
