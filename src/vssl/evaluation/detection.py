"""Temporal action detection mAP with the semantics of the ActivityNet challenge's official detection evaluation
(``eval_detection.py``), also used for THUMOS14 at its thresholds: per class, predictions in decreasing score are
matched to the not yet matched ground truth of their video with the highest tIoU, a hit when that tIoU reaches the
threshold; AP is the area under the interpolated precision-recall curve (precision made monotone, summed where
recall changes). Proposals become detections with a video-level class (Resnick et al. 2019; BSN §4.3)."""

from __future__ import annotations

import numpy as np

from vssl.evaluation.proposals import segment_iou

THUMOS_DETECTION_TIOU = (0.3, 0.4, 0.5, 0.6, 0.7)
ACTIVITYNET_DETECTION_TIOU = (0.5, 0.75, 0.95)


def interpolated_average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """Σ over recall steps of (Δ recall) × (the best precision at that recall or beyond)."""
    precision = np.concatenate([[0.0], precision, [0.0]])
    recall = np.concatenate([[0.0], recall, [1.0]])
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    steps = np.nonzero(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def average_precision(truth: dict[str, np.ndarray], predictions: list[tuple[str, float, float, float]],
                      tiou: tuple[float, ...]) -> np.ndarray:
    """AP [thresholds] of one class: ``truth`` video → segments [G, 2]; ``predictions`` (video, start, end, score)."""
    positives = sum(len(segments) for segments in truth.values())
    if positives == 0:
        return np.zeros(len(tiou))
    order = sorted(range(len(predictions)), key=lambda i: -predictions[i][3])
    tp = np.zeros((len(tiou), len(order)))
    matched = {(video, t): np.zeros(len(segments), dtype=bool) for video, segments in truth.items()
               for t in range(len(tiou))}
    for rank, index in enumerate(order):
        video, start, end, _ = predictions[index]
        segments = truth.get(video)
        if segments is None or len(segments) == 0:
            continue
        overlaps = segment_iou(np.array([start, end]), np.asarray(segments, dtype=np.float64))
        for t, threshold in enumerate(tiou):
            for g in np.argsort(-overlaps, kind="stable"):
                if overlaps[g] < threshold:
                    break
                if not matched[video, t][g]:
                    matched[video, t][g] = True
                    tp[t, rank] = 1
                    break
    fp = 1 - tp
    hits, misses = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    recall = hits / positives
    precision = hits / np.maximum(hits + misses, 1e-12)
    return np.array([interpolated_average_precision(precision[t], recall[t]) for t in range(len(tiou))])


def detection_map(truth: dict[str, dict[str, np.ndarray]], predictions: dict[str, list[tuple[str, float, float,
                                                                                             float]]],
                  tiou: tuple[float, ...] = THUMOS_DETECTION_TIOU) -> dict[float, float]:
    """mAP per tIoU threshold over the classes of ``truth`` (class → video → segments); ``predictions``: class →
    (video, start, end, score). A class without predictions has AP 0."""
    aps = np.stack([average_precision(truth[name], predictions.get(name, []), tiou) for name in truth])
    return {threshold: float(aps[:, t].mean()) for t, threshold in enumerate(tiou)}
