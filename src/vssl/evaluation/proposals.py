"""Temporal action proposal metrics: tIoU and average recall against the average number of proposals per video
(AR@AN), with the semantics of the ActivityNet challenge's official proposal evaluation (``eval_proposal.py`` of
activitynet/ActivityNet), which BSN (Lin et al. 2018) and Resnick et al. 2019 report.

How AN is counted there, and so here: AN is an *average* over videos, not a per-video top-N. With a budget of
``max_avg`` proposals per video, every video keeps its best ``int(P_v · ratio)`` proposals, ratio = max_avg · V / P
(P proposals over V videos); the curve then takes the fraction j/100 (j = 1 … 100) of each video's kept proposals,
scaled so that the last point averages ``max_avg`` per video. A video with fewer proposals than the budget therefore
keeps all of them, and a video without any counts its ground truth as missed.
"""

from __future__ import annotations

import numpy as np

THUMOS_TIOU = np.round(np.arange(0.5, 1.0 + 1e-9, 0.05), 2)  # 0.5:0.05:1.0 (BSN on THUMOS14)
ACTIVITYNET_TIOU = np.linspace(0.5, 0.95, 10)  # 0.5:0.05:0.95 (the challenge's proposal task)
AN_POINTS = (50, 100, 200, 500, 1000)


def segment_iou(segment: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """tIoU of one segment [2] (start, end) with each candidate [N, 2]: intersection over union of the intervals."""
    start = np.maximum(segment[0], candidates[:, 0])
    end = np.minimum(segment[1], candidates[:, 1])
    intersection = np.clip(end - start, 0, None)
    union = (candidates[:, 1] - candidates[:, 0]) + (segment[1] - segment[0]) - intersection
    return intersection / union


def average_recall_curve(ground_truth: dict[str, np.ndarray], proposals: dict[str, np.ndarray],
                         max_avg: float | None = None, tiou: np.ndarray = ACTIVITYNET_TIOU
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recall [thresholds, 100], average recall [100], average proposals per video [100]).

    ``ground_truth``: video → segments [G, 2]; ``proposals``: video → [P, 3] (start, end, score); videos without
    ground truth are ignored, as the official evaluation does. ``max_avg``: the proposal budget per video (default:
    every proposal)."""
    videos = list(ground_truth)
    total = sum(len(proposals.get(video, ())) for video in videos)
    if total == 0:
        raise ValueError("no proposals for any video with ground truth")
    max_avg = float(total) / len(videos) if not max_avg else max_avg
    ratio = max_avg * float(len(videos)) / total
    scores, kept_total = [], 0
    for video in videos:
        truth = np.asarray(ground_truth[video], dtype=np.float64).reshape(-1, 2)
        found = np.asarray(proposals.get(video, np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
        if len(found) == 0:
            scores.append(np.zeros((len(truth), 1)))
            continue
        found = found[np.argsort(-found[:, 2], kind="stable")]
        keep = min(int(len(found) * ratio), len(found))
        kept_total += keep
        found = found[:keep, :2]
        scores.append(np.stack([segment_iou(segment, found) for segment in truth]) if keep
                      else np.zeros((len(truth), 0)))
    fractions = np.arange(1, 101) / 100.0 * (max_avg * float(len(videos)) / kept_total)
    recall = np.empty((len(tiou), len(fractions)))
    positives = sum(score.shape[0] for score in scores)
    for r, threshold in enumerate(tiou):
        matches = np.zeros(len(fractions))
        for score in scores:
            hits = score >= threshold
            counts = np.minimum((score.shape[1] * fractions).astype(int), score.shape[1])
            for j, count in enumerate(counts):
                matches[j] += np.count_nonzero(hits[:, :count].sum(axis=1))
        recall[r] = matches / positives
    return recall, recall.mean(axis=0), fractions * (float(kept_total) / len(videos))


def average_recall_at(ground_truth: dict[str, np.ndarray], proposals: dict[str, np.ndarray],
                      points=AN_POINTS, tiou: np.ndarray = ACTIVITYNET_TIOU) -> dict[int, float]:
    """AR@AN for each AN in ``points``: the curve computed with a budget of max(points) per video, read where the
    average number of proposals per video reaches each AN."""
    budget = max(points)
    _, average, per_video = average_recall_curve(ground_truth, proposals, budget, tiou)
    return {n: float(average[int(np.argmin(np.abs(per_video - n)))]) for n in points}


def recall_at_tiou(ground_truth: dict[str, np.ndarray], proposals: dict[str, np.ndarray], budget: float,
                   tiou: np.ndarray) -> np.ndarray:
    """Recall against tIoU [thresholds] with ``budget`` proposals per video on average: the recall-vs-tIoU curve."""
    recall, _, _ = average_recall_curve(ground_truth, proposals, budget, tiou)
    return recall[:, -1]
