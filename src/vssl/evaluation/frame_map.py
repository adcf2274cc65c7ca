"""Frame-mAP of spatio-temporal action detection with the matching and AP of AVA's official (PASCAL VOC) evaluation.

Per class, detections in decreasing score (a stable sort: ties keep their order) are matched on their own keyframe:
each goes to the ground-truth box it overlaps most; it is a true positive when that IoU is at least the threshold
and that box is not matched yet, else a false positive (so a second detection of a matched box is a false
positive), as PASCAL VOC's ``VOCevaldet`` and AVA's ``per_image_evaluation._compute_tp_fp_for_single_class`` do.
AP is the area under the interpolated precision-recall curve: precision made monotonically non-increasing, summed
where recall changes. This is the all-point form of VOC 2010 onwards that AVA's evaluation uses
(``ava_evaluation/metrics.compute_average_precision``, from the TF Object Detection API), not VOC 2007's 11-point
average. A class without ground truth has no AP and is left out of the mean, as in AVA's evaluator (``nanmean``);
a class with ground truth but no detection has AP 0. IoU uses box areas (x2 − x1)(y2 − y1), without VOC's +1 pixel,
as AVA's normalised boxes need.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np

from vssl.evaluation.detection import interpolated_average_precision

IOU_THRESHOLD = 0.5  # frame-mAP@0.5: AVA's metric (Gu et al. 2018) and PASCAL VOC's matching threshold


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU [N, M] of boxes [N, 4] and [M, 4] as (x1, y1, x2, y2)."""
    x1 = np.maximum(boxes[:, None, 0], others[None, :, 0])
    y1 = np.maximum(boxes[:, None, 1], others[None, :, 1])
    x2 = np.minimum(boxes[:, None, 2], others[None, :, 2])
    y2 = np.minimum(boxes[:, None, 3], others[None, :, 3])
    overlap = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    other_area = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return overlap / (area[:, None] + other_area[None, :] - overlap)


def class_average_precision(truth: dict[Hashable, np.ndarray],
                            detections: list[tuple[Hashable, Sequence[float], float]],
                            iou_threshold: float = IOU_THRESHOLD) -> float:
    """AP of one class: ``truth`` keyframe → boxes [G, 4]; ``detections`` (keyframe, box, score). NaN without
    ground truth."""
    positives = sum(len(boxes) for boxes in truth.values())
    if positives == 0:
        return float("nan")
    matched = {keyframe: np.zeros(len(boxes), dtype=bool) for keyframe, boxes in truth.items()}
    order = np.argsort([-score for _, _, score in detections], kind="stable")
    hits = np.zeros(len(order), dtype=bool)
    for rank, index in enumerate(order):
        keyframe, box, _ = detections[index]
        boxes = truth.get(keyframe)
        if boxes is None or len(boxes) == 0:
            continue
        overlaps = box_iou(np.asarray(box, dtype=np.float64)[None], boxes)[0]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= iou_threshold and not matched[keyframe][best]:
            matched[keyframe][best] = hits[rank] = True
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    return interpolated_average_precision(precision, true_positives / positives)


def frame_map(ground_truth: Iterable[tuple[Hashable, int, Sequence[float]]],
              detections: Iterable[tuple[Hashable, int, Sequence[float], float]], num_classes: int,
              iou_threshold: float = IOU_THRESHOLD) -> tuple[float, list[float]]:
    """(mAP over the classes with ground truth, AP per class with NaN for the others): ``ground_truth``
    (keyframe, class, box), ``detections`` (keyframe, class, box, score), boxes as (x1, y1, x2, y2)."""
    truth: list[dict[Hashable, list]] = [{} for _ in range(num_classes)]
    for keyframe, label, box in ground_truth:
        truth[label].setdefault(keyframe, []).append(box)
    found: list[list] = [[] for _ in range(num_classes)]
    for keyframe, label, box, score in detections:
        found[label].append((keyframe, box, score))
    per_class = [class_average_precision({k: np.asarray(b, dtype=np.float64) for k, b in truth[c].items()}, found[c],
                                         iou_threshold) for c in range(num_classes)]
    scored = [ap for ap in per_class if not np.isnan(ap)]
    return (float(np.mean(scored)) if scored else float("nan")), per_class
