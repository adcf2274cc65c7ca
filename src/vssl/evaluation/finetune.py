"""Full fine-tuning: encoder + dropout + linear classifier trained end to end on one random clip per video."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.core.optim import make_eval_optimizer, schedule_factor
from vssl.core.runtime import Placement
from vssl.data.loader import VideoClipDataset, make_loader
from vssl.evaluation.linear import mean_softmax

STEP_GAMMA = 0.1  # Feichtenhofer et al. 2021 §5 and Thoker 2023 Table B.2: LR ×0.1 at each milestone


@dataclass
class FinetuneConfig:
    epochs: int = ranged(200, ge=1)  # Feichtenhofer et al. 2021 §5: UCF101/HMDB51 fine-tune 200 epochs
    lr: float = ranged(0.025, gt=0)  # Feichtenhofer et al. 2021 §5: LR 0.025, ×0.1 at epochs 60/120/180
    milestones: tuple[int, ...] = ranged((60, 120, 180), ge=0)
    dropout: float = ranged(0.8, ge=0, le=1)  # Feichtenhofer et al. 2021 §5
    weight_decay: float = ranged(0.0, ge=0)  # Feichtenhofer et al. 2021 §5
    batch_size: int = ranged(8, ge=1)
    optimizer: str = "sgd"  # sgd (momentum 0.9; Feichtenhofer et al. 2021 §5) | adam (SEVERE, Thoker 2023 Table B.2)
    freeze_stages: int = ranged(0, ge=0)  # leading backbone stages kept frozen (weights and BN statistics); 2 = stem + first stage


class Classifier(nn.Module):
    def __init__(self, encoder: nn.Module, feature_dim: int, num_classes: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.encoder(x)))


def frozen_stage_modules(encoder: nn.Module, count: int) -> list[nn.Module]:
    """The modules of the encoder's first ``count`` stages (``stages()`` order: stem, layer1, … for ResNets).

    Raises ConfigError when ``count`` is out of range or a stage is not a module (e.g. a function that reaches
    into several modules), since such a stage cannot be frozen by name.
    """
    stages = encoder.stages()
    if isinstance(count, bool) or not 0 <= count < len(stages):
        raise ConfigError(f"finetune.freeze_stages={count!r} must be in [0, {len(stages) - 1}] for "
                          f"{type(encoder).__name__} (stages: {', '.join(name for name, _ in stages)})")
    modules = []
    for name, stage in stages[:count]:
        if not isinstance(stage, nn.Module):
            raise ConfigError(f"finetune.freeze_stages={count}: stage '{name}' of {type(encoder).__name__} is "
                              f"not a module and cannot be frozen")
        modules.append(stage)
    return modules


def finetune(encoder: nn.Module, train_set: VideoClipDataset, test_set: VideoClipDataset, num_classes: int,
             config: FinetuneConfig, num_workers: int, progress: bool = True,
             placement: Placement | None = None) -> tuple[torch.Tensor, list[str]]:
    """Train encoder+head on ``train_set`` (label set 0); → (test scores [M, C] on the CPU, averaged over views,
    skipped). :func:`train_classifier` then :func:`predict`."""
    model, placement, skipped = train_classifier(encoder, train_set, num_classes, config, num_workers, progress,
                                                 placement)
    scores, test_skipped = predict(model, test_set, num_classes, config.batch_size, num_workers, placement)
    return scores, sorted(set(skipped) | set(test_skipped))


def first_label_set(batch: dict) -> torch.Tensor:
    """The class indices [B] of a batch's first label set: what single-label fine-tuning learns."""
    return batch["labels"][:, 0]


def train_classifier(encoder: nn.Module, train_set: VideoClipDataset, num_classes: int, config: FinetuneConfig,
                     num_workers: int, progress: bool = True, placement: Placement | None = None,
                     criterion: nn.Module | None = None, targets: Callable[[dict], torch.Tensor] = first_label_set
                     ) -> tuple[Classifier, Placement, list[str]]:
    """Train encoder + dropout + linear head end to end on ``train_set``; → (the model in eval mode, the placement
    it runs on, skipped paths). ``criterion`` (default cross-entropy) compares the logits with ``targets(batch)``
    (default: label set 0). Model and batches run on ``placement`` (default: the encoder's own device, fp32), under
    its autocast; fp16 scales the loss with a GradScaler."""
    placement = (placement or Placement.of(encoder)).for_model(encoder)
    model = placement.module(Classifier(encoder, encoder.feature_dim, num_classes, config.dropout))
    loss_fn = criterion or nn.CrossEntropyLoss()

    def batch_loss(batch: dict) -> torch.Tensor:
        clips, labels = placement.tensor(batch["clips"][:, 0]), placement.tensor(targets(batch))
        with placement.autocast():
            return loss_fn(model(clips), labels)

    skipped = train_end_to_end(model, encoder, train_set, config, num_workers, progress, placement, batch_loss,
                               "fine-tune")
    return model, placement, skipped


def train_end_to_end(model: nn.Module, encoder: nn.Module, train_set: VideoClipDataset, config: FinetuneConfig,
                     num_workers: int, progress: bool, placement: Placement,
                     batch_loss: Callable[[dict], torch.Tensor], desc: str) -> list[str]:
    """The fine-tuning loop shared by every head on an encoder: ``config``'s optimiser, per-epoch LR steps, frozen
    stages (in eval mode, so frozen BatchNorm keeps its statistics), one random clip per video and batch;
    ``batch_loss(batch)`` computes the loss on ``placement``; fp16 scales it with a GradScaler. → skipped paths;
    the model is left in eval mode."""
    frozen = frozen_stage_modules(encoder, config.freeze_stages)
    for module in frozen:
        module.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_eval_optimizer(config.optimizer, trainable, config.lr, config.weight_decay, "finetune.optimizer",
                                    schedule_factor("step", 1, config.epochs, start_factor=1.0,  # once per epoch
                                                    milestones=config.milestones, gamma=STEP_GAMMA))
    scaler = torch.amp.GradScaler(placement.device.type, enabled=placement.amp == torch.float16)
    train_loader = make_loader(train_set, config.batch_size, shuffle=True, num_workers=num_workers, drop_last=True,
                               seed=train_set.seed, pin_memory=placement.pin_memory)
    skipped: list[str] = []
    for epoch in tqdm(range(config.epochs), desc=desc, unit="epoch", disable=not progress, leave=False):
        train_loader.sampler.set_epoch(epoch)
        model.train()
        for module in frozen:
            module.eval()
        for batch in train_loader:
            skipped.extend(batch["skipped"])
            if batch["clips"].shape[0] < 2:
                continue
            optimizer.zero_grad()
            loss = batch_loss(batch)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        optimizer.next_lr()
    model.eval()
    return skipped


def predict(model: Classifier, test_set: VideoClipDataset, num_classes: int, batch_size: int, num_workers: int,
            placement: Placement,
            video_scores: Callable[[torch.Tensor], torch.Tensor] = mean_softmax) -> tuple[torch.Tensor, list[str]]:
    """Class scores [M, C] (CPU) of every test video: ``video_scores`` of the logits of its views (K clips × S
    crops; default: their softmax, averaged); NaN rows for unreadable videos. → (scores, skipped paths)."""
    skipped: list[str] = []
    scores = torch.full((len(test_set), num_classes), float("nan"))
    with torch.no_grad():
        for batch in make_loader(test_set, batch_size, shuffle=False, num_workers=num_workers,
                                 pin_memory=placement.pin_memory):
            skipped.extend(batch["skipped"])
            if batch["clips"].numel() == 0:
                continue
            b, v = batch["clips"].shape[:2]
            with placement.autocast():
                logits = model(placement.tensor(batch["clips"].flatten(0, 1)))
            probs = video_scores(logits.float().view(b, v, -1))
            scores[batch["index"]] = placement.host(probs)
    return scores, skipped
