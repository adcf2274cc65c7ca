"""Classification metrics on video-level scores: top-k accuracy and mean per-class accuracy (in %)."""

from __future__ import annotations

import torch


def topk_accuracy(scores: torch.Tensor, targets: torch.Tensor, k: int = 1) -> float:
    """Percentage of rows whose target is among the k highest scores."""
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1).indices
    return 100.0 * (top == targets[:, None]).any(dim=1).float().mean().item()


def mean_class_accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Top-1 accuracy computed per class, then averaged over the classes present in ``targets``."""
    per_class = [(predictions[targets == c] == c).float().mean().item() for c in targets.unique()]
    return 100.0 * sum(per_class) / len(per_class)


def classification_metrics(scores: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    metrics = {"top1": topk_accuracy(scores, targets, 1),
               "mean_class_acc": mean_class_accuracy(scores.argmax(dim=1), targets)}
    if scores.shape[1] > 5:
        metrics["top5"] = topk_accuracy(scores, targets, 5)
    return metrics
