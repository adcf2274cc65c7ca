"""Classification metrics on video-level scores: top-k accuracy and mean per-class accuracy (in %)."""

from __future__ import annotations

import torch


def ranked_classes(scores: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Class indices [N, k] of each row from the highest score down. Equal scores are ranked by class index, so
    in a tie the lower class index wins: the one rule every metric (and kNN's plain vote) predicts by."""
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    return order if k is None else order[:, :min(k, scores.shape[1])]


def predicted_classes(scores: torch.Tensor) -> torch.Tensor:
    """The top-1 class of each row [N]: the highest score, the lower class index on a tie."""
    return ranked_classes(scores, 1)[:, 0]


def topk_accuracy(scores: torch.Tensor, targets: torch.Tensor, k: int = 1) -> float:
    """Percentage of rows whose target is among the k highest scores (ties ranked by class index)."""
    top = ranked_classes(scores, k)
    return 100.0 * (top == targets[:, None]).any(dim=1).float().mean().item()


def mean_class_accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Top-1 accuracy computed per class, then averaged over the classes present in ``targets``."""
    per_class = [(predictions[targets == c] == c).float().mean().item() for c in targets.unique()]
    return 100.0 * sum(per_class) / len(per_class)


def classification_metrics(scores: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """top1, mean_class_acc and (with more than 5 classes) top5, every one ranked by :func:`ranked_classes`."""
    metrics = {"top1": topk_accuracy(scores, targets, 1),
               "mean_class_acc": mean_class_accuracy(predicted_classes(scores), targets)}
    if scores.shape[1] > 5:
        metrics["top5"] = topk_accuracy(scores, targets, 5)
    return metrics
