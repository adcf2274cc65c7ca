"""Repetition counting (Thoker 2023 Ch. 4, UCF-RC): a count regression head fine-tuned end to end, and its metrics."""

from __future__ import annotations

import torch
from torch import nn

from vssl.core.errors import VsslError
from vssl.core.runtime import Placement
from vssl.data.formats.repetition import COUNT_LABEL
from vssl.data.loader import VideoClipDataset
from vssl.data.manifest import Sample
from vssl.evaluation.finetune import Classifier, FinetuneConfig, predict, train_end_to_end


def counting_metrics(predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """``mean_counting_error``: the mean of |c − g| / g (Thoker 2023 Table 4.4, UCF-RC; lower is better) and
    ``off_by_one``: the fraction with |c − g| ≤ 1, where c is the predicted count rounded to a whole number (half to
    even), as Zhang et al. 2020's evaluation (val_2stream.py, which SEVERE's UCF-RC reuses) rounds it before both;
    g is the true count. Both are fractions, as published."""
    predicted, target = torch.as_tensor(predicted, dtype=torch.float64), torch.as_tensor(target, dtype=torch.float64)
    if predicted.dim() != 1 or predicted.shape != target.shape:
        raise ValueError(f"counting_metrics: expected two equal-length vectors, got {tuple(predicted.shape)} and "
                         f"{tuple(target.shape)}")
    if len(target) == 0:
        raise ValueError("counting_metrics: no videos to score")
    if not (target > 0).all():
        raise ValueError(f"counting_metrics: true counts must be positive, got {target[~(target > 0)][0].item()}")
    miss = (torch.round(predicted) - target).abs()
    return {"mean_counting_error": (miss / target).mean().item(), "off_by_one": (miss <= 1).double().mean().item()}


def counting_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean relative error mean(|p − g| / g) of the unrounded count p: the metric itself, trained on."""
    return ((predicted - target).abs() / target).mean()


def sample_counts(samples: list[Sample]) -> torch.Tensor:
    """The ``count`` label of every sample as a float vector; a VsslError names a sample without a positive one."""
    counts = []
    for sample in samples:
        value = sample.labels.get(COUNT_LABEL, "")
        if not value.isdigit() or int(value) < 1:
            raise VsslError(f"{sample.path}: label '{COUNT_LABEL}' must be a positive whole number, got {value!r}")
        counts.append(float(value))
    return torch.tensor(counts)


def count_regressor(encoder: nn.Module, dropout: float, initial_count: float) -> Classifier:
    """Fine-tuning's encoder + dropout + linear head with one output, the predicted count; the head's bias starts at
    ``initial_count`` (the training set's mean count), so training begins from the mean predictor."""
    model = Classifier(encoder, encoder.feature_dim, 1, dropout)
    nn.init.constant_(model.fc.bias, initial_count)
    return model


def train_counter(encoder: nn.Module, train_set: VideoClipDataset, config: FinetuneConfig, num_workers: int,
                  progress: bool, placement: Placement) -> tuple[Classifier, Placement, list[str]]:
    """Train encoder + head end to end on one clip per video of ``train_set`` against its ``count`` labels with
    ``config``'s optimiser, LR steps, dropout, batch size and frozen stages (the fine-tuning settings); → (the model
    in eval mode, the placement it runs on, skipped paths)."""
    counts = sample_counts(train_set.samples)
    placement = placement.for_model(encoder)
    model = placement.module(count_regressor(encoder, config.dropout, counts.mean().item()))

    def batch_loss(batch: dict) -> torch.Tensor:
        clips, target = placement.tensor(batch["clips"][:, 0]), placement.tensor(counts[batch["index"]])
        with placement.autocast():
            predicted = model(clips)[:, 0]
        return counting_loss(predicted.float(), target)

    skipped = train_end_to_end(model, encoder, train_set, config, num_workers, progress, placement, batch_loss,
                               "counting fine-tune")
    return model, placement, skipped


def predict_counts(model: Classifier, test_set: VideoClipDataset, batch_size: int, num_workers: int,
                   placement: Placement) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The predicted count [M] (CPU) of every test video, averaged over its views, a mask [M] of the videos scored
    (False where unreadable) and the skipped paths: fine-tuning's :func:`predict` with the mean as video score."""
    scores, skipped = predict(model, test_set, 1, batch_size, num_workers, placement,
                              video_scores=lambda counts: counts.mean(dim=1))
    predicted = scores[:, 0]
    return predicted, ~predicted.isnan(), skipped
