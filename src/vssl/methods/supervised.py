"""Supervised training from scratch with labels: the ceiling every self-supervised method is compared against.

Not a self-supervised method, but it trains through the same ``vssl pretrain`` engine (same backbone, clips, data
path and wall-clock budget), so its encoder is evaluated by exactly the protocols the others are. One linear head
per label set over the pooled features, after dropout; the loss is the sum of the heads' cross-entropies. Each
video gives one random clip per step, with crop and flip only (no colour jitter: the labels are given).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.data.sampling import RandomClipSampler
from vssl.data.transforms import build_train_transform
from vssl.methods.pretext_common import PretextMethod


@dataclass
class SupervisedConfig:
    labels: tuple[str, ...] = ("label",)  # manifest label columns, one head each
    dropout: float = ranged(0.5, ge=0, le=1)  # before every head, as in the fine-tuning protocol (Thoker 2023, Table B.2: 0.5)

    def __post_init__(self):
        if not self.labels:
            raise ConfigError("method.labels: name at least one label column of the manifest")


class Supervised(PretextMethod):
    """Cross-entropy on the manifest's labels; logs the mean training accuracy over label sets."""

    def __init__(self, backbone, config: SupervisedConfig, optim, num_classes: dict[str, int]):
        super().__init__(backbone, config, optim)
        self.dropout = nn.Dropout(config.dropout)
        self.heads = nn.ModuleList(nn.Linear(backbone.feature_dim, num_classes[name]) for name in config.labels)

    @classmethod
    def label_sets(cls, config: SupervisedConfig) -> tuple[str, ...]:
        return tuple(config.labels)

    @classmethod
    def build_sampler(cls, config, data):
        return RandomClipSampler(data.clip_len, data.stride)

    @classmethod
    def build_transform(cls, config, data):
        return build_train_transform(data.crop_size, data.short_side, strength=0.0, blur=False, grayscale_p=0.0,
                                     flip=data.flip)

    def train_batch(self, batch: dict) -> torch.Tensor:
        features = self.dropout(self.backbone(batch["clips"][:, 0]))
        loss, accuracy = supervised_loss([head(features) for head in self.heads], batch["labels"])
        self.manual_backward(loss)
        self.log_pretext_accuracy(accuracy, loss, batch["labels"].shape[0])
        return loss.detach()


def supervised_loss(logits: list[torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum over label sets of the mean cross-entropy, mean accuracy over label sets and videos).

    ``logits[i]`` [B, C_i] scores label set i; ``labels`` [B, len(logits)] holds the class indices."""
    loss = sum(F.cross_entropy(scores, labels[:, i]) for i, scores in enumerate(logits))
    correct = torch.stack([(scores.argmax(1) == labels[:, i]).float() for i, scores in enumerate(logits)])
    return loss, correct.mean()
