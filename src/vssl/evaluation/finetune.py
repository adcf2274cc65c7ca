"""Full fine-tuning: encoder + dropout + linear classifier trained end to end on one random clip per video."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from vssl.data.loader import VideoClipDataset, make_loader


@dataclass
class FinetuneConfig:
    epochs: int = 200  # seed 001 §5: UCF101/HMDB51 fine-tune 200 epochs
    lr: float = 0.025  # seed 001 §5: LR 0.025, ×0.1 at epochs 60/120/180
    milestones: tuple[int, ...] = (60, 120, 180)
    dropout: float = 0.8  # seed 001 §5
    weight_decay: float = 0.0  # seed 001 §5
    batch_size: int = 8


class Classifier(nn.Module):
    def __init__(self, encoder: nn.Module, feature_dim: int, num_classes: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.encoder(x)))


def finetune(encoder: nn.Module, train_set: VideoClipDataset, test_set: VideoClipDataset, num_classes: int,
             config: FinetuneConfig, num_workers: int, progress: bool = True) -> tuple[torch.Tensor, list[str]]:
    """Train encoder+head on ``train_set`` (label set 0); → (test scores [M, C] averaged over clips, skipped)."""
    model = Classifier(encoder, encoder.feature_dim, num_classes, config.dropout)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.milestones), gamma=0.1)
    train_loader = make_loader(train_set, config.batch_size, shuffle=True, num_workers=num_workers, drop_last=True,
                               seed=train_set.seed)
    loss_fn = nn.CrossEntropyLoss()
    skipped: list[str] = []
    for epoch in tqdm(range(config.epochs), desc="fine-tune", unit="epoch", disable=not progress, leave=False):
        train_loader.sampler.set_epoch(epoch)
        model.train()
        for batch in train_loader:
            skipped.extend(batch["skipped"])
            if batch["clips"].shape[0] < 2:
                continue
            optimizer.zero_grad()
            loss_fn(model(batch["clips"][:, 0]), batch["labels"][:, 0]).backward()
            optimizer.step()
        scheduler.step()
    model.eval()
    scores = torch.full((len(test_set), num_classes), float("nan"))
    with torch.no_grad():
        for batch in make_loader(test_set, config.batch_size, shuffle=False, num_workers=num_workers):
            skipped.extend(batch["skipped"])
            if batch["clips"].numel() == 0:
                continue
            b, k = batch["clips"].shape[:2]
            probs = model(batch["clips"].flatten(0, 1)).softmax(dim=1).view(b, k, -1).mean(dim=1)
            scores[batch["index"]] = probs
    return scores, sorted(set(skipped))
