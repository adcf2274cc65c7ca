"""Linear probe on frozen per-view features; test predictions are by default softmax scores averaged over a video's
views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from vssl.core.config import ranged
from vssl.core.optim import make_eval_optimizer, schedule_factor
from vssl.core.runtime import Placement

STEP_GAMMA = 0.1  # Thoker 2023 Table B.2: multi-step schedule with γ = 0.1


@dataclass
class LinearConfig:
    epochs: int = ranged(100, ge=1)
    lr: float = ranged(0.1, gt=0)  # SGD on standardised features; Feichtenhofer et al. 2021 uses 4.0 on raw pool5 features of a full model
    weight_decay: float = ranged(0.0, ge=0)  # Feichtenhofer et al. 2021 §5: wd 0 for the linear protocol
    batch_size: int = ranged(256, ge=1)
    optimizer: str = "sgd"  # sgd (momentum 0.9) | adam (SEVERE's linear probes, Thoker 2023 Table B.2 [code])
    schedule: str = "cosine"  # cosine (Feichtenhofer et al. 2021 §5) | step: ×0.1 at each of ``milestones`` (Thoker 2023 Table B.2)
    milestones: tuple[int, ...] = ranged((), ge=0)  # epochs, for schedule=step
    warmup_epochs: float = ranged(0.0, ge=0)  # linear warm-up from 0; Feichtenhofer et al. 2021 §5 warms up 8 epochs on K400
    standardize: bool = True  # standardise features with the training mean/std (Feichtenhofer et al. 2021 trains on raw features)


def mean_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Video scores [B, C] from the logits of its views [B, V, C]: the views' softmax, averaged."""
    return logits.softmax(dim=-1).mean(dim=1)


def lr_factor(config: LinearConfig, steps_per_epoch: int):
    """The LR multiplier per optimiser step: warm-up from 0, then cosine or step decay."""
    return schedule_factor(config.schedule, steps_per_epoch, steps_per_epoch * config.epochs, config.warmup_epochs,
                           0.0, config.milestones, STEP_GAMMA, "linear.schedule")


def train_linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                       num_classes: int, config: LinearConfig, seed: int = 0, placement: Placement | None = None,
                       criterion: nn.Module | None = None,
                       video_scores: Callable[[torch.Tensor], torch.Tensor] = mean_softmax) -> torch.Tensor:
    """Train on every view of every training video ([N, V, D] → N·V samples); return test scores [M, C] on the CPU.

    ``criterion`` (default cross-entropy with the class indices [N]) compares the logits with the video's labels
    (each row of ``train_labels``, e.g. 0/1 rows [N, C] for sigmoid BCE); ``video_scores`` turns a test video's
    view logits [M, V, C] into its scores (default: the views' softmax, averaged).

    With ``standardize`` the features are standardised with the training mean/std. The classifier and the features
    train on ``placement``'s device (default CPU) in fp32; the initial weights and the sample order are drawn on
    the CPU from ``seed``, so they are the same on every device.
    """
    placement = placement or Placement()
    generator = torch.Generator().manual_seed(seed)
    n, v, d = train_features.shape
    x = train_features.reshape(n * v, d)
    y = train_labels.repeat_interleave(v, dim=0)
    if config.standardize:
        mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    else:
        mean, std = torch.zeros(d), torch.ones(d)
    x, y = placement.tensor((x - mean) / std), placement.tensor(y)
    classifier = nn.Linear(d, num_classes)
    with torch.no_grad():
        classifier.weight.normal_(0, 0.01, generator=generator)
        classifier.bias.zero_()
    placement.module(classifier)
    steps_per_epoch = -(-x.shape[0] // config.batch_size)
    optimizer = make_eval_optimizer(config.optimizer, classifier.parameters(), config.lr, config.weight_decay,
                                    "linear.optimizer", lr_factor(config, steps_per_epoch))
    loss_fn = criterion or nn.CrossEntropyLoss()
    for _ in range(config.epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], config.batch_size):
            batch = placement.tensor(order[start:start + config.batch_size])
            optimizer.zero_grad()
            loss_fn(classifier(x[batch]), y[batch]).backward()
            optimizer.step()
            optimizer.next_lr()
    with torch.no_grad():
        m, vt, _ = test_features.shape
        logits = classifier(placement.tensor((test_features.reshape(m * vt, d) - mean) / std))
        return placement.host(video_scores(logits.view(m, vt, -1)))
