"""BSN, Boundary-Sensitive Network (Lin et al. 2018), on frozen snippet features (Resnick et al. 2019, Tables 3–4): the
temporal evaluation module (TEM), proposal generation (PGM) with boundary-sensitive proposal features, the proposal
evaluation module (PEM), proposal scores and Gaussian Soft-NMS. Positions are on the rescaled temporal axis of
``scale`` snippets (100 in BSN), times as fractions of the video in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vssl.evaluation.proposals import segment_iou

TEMPORAL_SCALE = 100  # snippet features rescaled to 100 positions (BSN §4.1)
TEM_WIDTH = 512
PEM_WIDTH = 512
BOUNDARY_RATIO = 0.1  # boundary regions are max(one snippet, 0.1 · the action's duration) wide (BSN §3.3)
BSP_POINTS = (16, 8, 8)  # actionness samples inside the proposal, around its start and around its end (32-d)
BSP_REGION = 0.2  # the start and end regions span 0.2 of the proposal's duration, centred on the boundary
PEM_SAMPLING = (1, 1, 2)  # high (tIoU > 0.7) : medium (0.3–0.7) : low (< 0.3) proposals in PEM's training
SOFT_NMS_EPSILON = 0.75  # Gaussian decay exp(−IoU² / ε)
MAX_PROPOSALS = 1000


class TEM(nn.Module):
    """Conv1d(D→512, k3) → ReLU → Conv1d(512→512, k3) → ReLU → Conv1d(512→3, k1) → sigmoid: the actionness, start
    and end probability of every position, [B, D, T] → [B, 3, T]."""

    def __init__(self, feature_dim: int, width: int = TEM_WIDTH):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv1d(feature_dim, width, 3, padding=1), nn.ReLU(inplace=True),
                                    nn.Conv1d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                                    nn.Conv1d(width, 3, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layers(features))


class PEM(nn.Module):
    """FC(32→512) → ReLU → FC(512→1) → sigmoid: a proposal's confidence from its BSP feature."""

    def __init__(self, width: int = PEM_WIDTH):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(sum(BSP_POINTS), width), nn.ReLU(inplace=True), nn.Linear(width, 1))

    def forward(self, bsp: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layers(bsp)).squeeze(-1)


def _overlap_ratio(cells: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """For every cell [T, 2], the largest fraction of it covered by one of the regions [R, 2] (0 without regions)."""
    if len(regions) == 0:
        return np.zeros(len(cells))
    start = np.maximum(cells[:, None, 0], regions[None, :, 0])
    end = np.minimum(cells[:, None, 1], regions[None, :, 1])
    return (np.clip(end - start, 0, None) / (cells[:, 1] - cells[:, 0])[:, None]).max(axis=1)


def tem_targets(segments: np.ndarray, scale: int = TEMPORAL_SCALE) -> np.ndarray:
    """Labels [3, scale] in {0, 1} (actionness, start, end) for ground-truth segments [G, 2] in [0, 1]: a position's
    cell [t/scale, (t+1)/scale] is positive where more than half of it lies inside an action (actionness) or in a
    boundary region of width max(1/scale, 0.1 · duration) centred on a start (end)."""
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    cells = np.stack([np.arange(scale), np.arange(1, scale + 1)], axis=1) / scale
    half = np.maximum(1.0 / scale, BOUNDARY_RATIO * (segments[:, 1] - segments[:, 0])) / 2
    starts = np.stack([segments[:, 0] - half, segments[:, 0] + half], axis=1)
    ends = np.stack([segments[:, 1] - half, segments[:, 1] + half], axis=1)
    return np.stack([_overlap_ratio(cells, regions) > 0.5 for regions in (segments, starts, ends)]).astype(np.float32)


def weighted_logistic_loss(probabilities: torch.Tensor, targets: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """BSN's weighted binary logistic loss over positions [..., T]: −(1/T) Σ_t [α⁺ b_t log p_t + α⁻ (1 − b_t)
    log(1 − p_t)] with α⁺ = T / #positives and α⁻ = T / #negatives of the whole batch, averaged over the rest."""
    count = targets.numel()
    positives = targets.sum().clamp(min=1.0)
    negatives = (count - targets.sum()).clamp(min=1.0)
    alpha_pos, alpha_neg = count / positives, count / negatives
    log_p, log_not_p = torch.log(probabilities.clamp(min=eps)), torch.log((1 - probabilities).clamp(min=eps))
    return -(alpha_pos * targets * log_p + alpha_neg * (1 - targets) * log_not_p).mean()


def boundary_candidates(probabilities: np.ndarray) -> np.ndarray:
    """Positions whose probability is a local peak or above half the curve's maximum (PGM, BSN §3.4)."""
    p = np.asarray(probabilities)
    peak = np.zeros(len(p), dtype=bool)
    peak[1:-1] = (p[1:-1] > p[:-2]) & (p[1:-1] > p[2:])
    return np.nonzero(peak | (p > 0.5 * p.max()))[0]


def candidate_proposals(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Every (start, end) pair of boundary candidates with the end not before the start, as fractions [P, 2]: a
    start at position t begins at t / scale (its cell's left edge), an end at t stops at (t + 1) / scale (its right
    edge), as BSN's anchors."""
    scale = len(start)
    pairs = [(s, e + 1) for s in boundary_candidates(start) for e in boundary_candidates(end) if e >= s]
    return np.array(pairs, dtype=np.float64).reshape(-1, 2) / scale


def bsp_features(actionness: np.ndarray, proposals: np.ndarray) -> np.ndarray:
    """Boundary-sensitive proposal features [P, 32]: the actionness curve (position t at its cell's centre) linearly
    interpolated at 16 evenly spaced points across each proposal, and at 8 across each of its start and end regions
    (0.2 of its duration, centred on the boundary)."""
    scale = len(actionness)
    positions = (np.arange(scale) + 0.5) / scale
    inside, around_start, around_end = BSP_POINTS
    rows = []
    for start, end in proposals:
        half = BSP_REGION * (end - start) / 2
        points = np.concatenate([np.linspace(start, end, inside), np.linspace(start - half, start + half, around_start),
                                 np.linspace(end - half, end + half, around_end)])
        rows.append(np.interp(points, positions, actionness))
    return np.array(rows, dtype=np.float32).reshape(-1, sum(BSP_POINTS))


def max_tiou(proposals: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Each proposal's largest tIoU with any ground-truth segment (PEM's regression target)."""
    if len(segments) == 0:
        return np.zeros(len(proposals))
    return np.stack([segment_iou(p, segments) for p in proposals]).max(axis=1)


def pem_training_sample(targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of proposals for PEM's training, drawn high (tIoU > 0.7) : medium (0.3–0.7) : low (< 0.3) = 1 : 1 : 2
    with as many high ones as there are (at least one of each kind present when available)."""
    high = np.nonzero(targets > 0.7)[0]
    medium = np.nonzero((targets >= 0.3) & (targets <= 0.7))[0]
    low = np.nonzero(targets < 0.3)[0]
    unit = max(len(high), 1)
    chosen = [high]
    for group, weight in ((medium, PEM_SAMPLING[1]), (low, PEM_SAMPLING[2])):
        take = min(len(group), weight * unit)
        chosen.append(rng.choice(group, size=take, replace=False) if take else group[:0])
    return np.concatenate(chosen)


def soft_nms(proposals: np.ndarray, scores: np.ndarray, epsilon: float = SOFT_NMS_EPSILON,
             keep: int = MAX_PROPOSALS) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian Soft-NMS (Bodla et al. 2017): repeatedly take the best proposal and decay every remaining score by
    exp(−tIoU² / ε) with it; → up to ``keep`` proposals [K, 2] and their decayed scores, best first."""
    proposals, scores = np.asarray(proposals, dtype=np.float64).reshape(-1, 2), np.asarray(scores, np.float64).copy()
    alive = np.ones(len(proposals), dtype=bool)
    picked, picked_scores = [], []
    while alive.any() and len(picked) < keep:
        best = int(np.argmax(np.where(alive, scores, -np.inf)))  # the first of equal scores, as a stable sort
        alive[best] = False
        picked.append(best)
        picked_scores.append(scores[best])
        overlap = segment_iou(proposals[best], proposals[alive])
        scores[alive] *= np.exp(-overlap ** 2 / epsilon)
    return proposals[picked].reshape(-1, 2), np.array(picked_scores)


def proposal_scores(start: np.ndarray, end: np.ndarray, proposals: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """score = p_start(t_s) · p_end(t_e) · p_conf (BSN §3.6), each boundary read at the position whose cell it begins
    (start) or ends (end)."""
    scale = len(start)
    s = np.clip(np.round(proposals[:, 0] * scale).astype(int), 0, scale - 1)
    e = np.clip(np.round(proposals[:, 1] * scale).astype(int) - 1, 0, scale - 1)
    return start[s] * end[e] * confidence
