"""Multi-label video classification metrics (Charades; Thoker 2023 Ch. 4 task shift): mean average precision as the
official Charades evaluation computes it (``Charades_v1_classify.m``): per class, the non-interpolated AP of the test
videos ranked by score, averaged over the classes that have at least one positive video; and a video's scores from
those of its views."""

from __future__ import annotations

import numpy as np
import torch


def class_average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: the mean of the precision at the rank of every positive, ranking videos by decreasing
    score (ties keep the videos' order)."""
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(bool)
    if not hits.any():
        return float("nan")
    precision_at_hit = np.cumsum(hits)[hits] / (np.nonzero(hits)[0] + 1)
    return float(precision_at_hit.mean())


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """mAP over the classes with a positive: scores and 0/1 targets [videos, classes]."""
    aps = [class_average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    kept = [ap for ap in aps if not np.isnan(ap)]
    return float(np.mean(kept)) if kept else float("nan")


def sigmoid_max_over_views(logits: torch.Tensor) -> torch.Tensor:
    """Video scores [videos, classes] from the logits of its views [videos, views, classes] (clips × crops): per
    class, the highest sigmoid of the views, the test max-pool over clips of Thoker 2023 Ch. 4 (SEVERE's Charades
    configs: HEAD_ACT sigmoid, ENSEMBLE_METHOD max [code])."""
    return logits.sigmoid().amax(dim=1)


def multilabel_metrics(video_scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``mAP`` in % (as the classification metrics, and as Thoker 2023 Table 4.4 reports Charades)."""
    return {"mAP": 100.0 * mean_average_precision(video_scores, targets)}
