"""Linear probe on frozen per-clip features; test predictions are softmax scores averaged over a video's clips."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vssl.train.optim import warmup_cosine_factor


@dataclass
class LinearConfig:
    epochs: int = 100
    lr: float = 0.1  # SGD on standardised features; seed 001 uses 4.0 on raw pool5 features of a full model
    weight_decay: float = 0.0  # seed 001 §5: wd 0 for the linear protocol
    batch_size: int = 256


def train_linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                       num_classes: int, config: LinearConfig, seed: int = 0) -> torch.Tensor:
    """Train on every clip of every training video ([N, K, D] → N·K samples); return test scores [M, C].

    Features are standardised with the training mean/std; SGD with momentum 0.9 and a cosine schedule.
    """
    generator = torch.Generator().manual_seed(seed)
    n, k, d = train_features.shape
    x = train_features.reshape(n * k, d)
    y = train_labels.repeat_interleave(k)
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    x = (x - mean) / std
    classifier = nn.Linear(d, num_classes)
    with torch.no_grad():
        classifier.weight.normal_(0, 0.01, generator=generator)
        classifier.bias.zero_()
    optimizer = torch.optim.SGD(classifier.parameters(), lr=config.lr, momentum=0.9,
                                weight_decay=config.weight_decay)
    steps_per_epoch = -(-x.shape[0] // config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine_factor(s, 0, total, 1.0))
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(config.epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], config.batch_size):
            batch = order[start:start + config.batch_size]
            optimizer.zero_grad()
            loss_fn(classifier(x[batch]), y[batch]).backward()
            optimizer.step()
            scheduler.step()
    with torch.no_grad():
        m, kt, _ = test_features.shape
        logits = classifier((test_features.reshape(m * kt, d) - mean) / std)
        return logits.softmax(dim=1).view(m, kt, -1).mean(dim=1)
