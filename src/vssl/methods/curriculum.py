"""Curriculum learning for the statistics pretext task (Wang 2020 §3.2, Table 3.3): the motion-concentration score,
the easy-to-hard order, the single-step pacing function and the 50 % subsets of the ablation, as an epoch order.

- **Score** (Eq. 3.1): f = max(ΣB_u / ΣM_u, ΣB_v / ΣM_v), the share of the summed motion boundary magnitude that lies
  in the largest-motion block B (pattern 1, the 4×4 grid: the thesis does not say which pattern; the grid is the one
  its text explains the labels with). High f = one dominant moving region = easy. A clip without motion (ΣM = 0)
  scores 0. The loader's items are videos, so a video's score is the mean f of its labelled clips.
- **Order**: descending f (easy → hard), ties by position in the dataset.
- **Curricula** (``method.curriculum``):
  ``single_step`` — Eq. 3.2, whose step counts iterations: every epoch has as many clips as there are videos, drawn
  from the easiest half only for the first ``step_epochs`` epochs (each easy video twice per epoch, in two shuffled
  passes), then from every video once; ``easiest_half`` / ``hardest_half`` — only the first / last half of the order,
  every epoch (an epoch is then half as long: training on 50 % of the data, as in Table 3.3);
  ``random_half`` — every second video in dataset order (indices 0, 2, 4, …), the 1/2 subset of Table 3.2
  ("one sample from every k"), whose numbers Table 3.3's random 50 % row repeats (73.6 / 35.6).
  A half of n videos is ⌈n/2⌉ (the hardest half is the other ⌊n/2⌋), so the easy and hard halves partition the set.
- Within an epoch the chosen videos are shuffled from (seed, epoch), as ``EpochShuffleSampler`` does, so a resumed
  run sees the same order. Every epoch of one curriculum has the same length, ``len(order)``: Lightning reads a
  loader's length once, and under DDP its distributed sampler indexes the order's list up to that length.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Sampler

from vssl.core.errors import ConfigError
from vssl.methods.flow_statistics import REGION_COUNTS, pattern_regions

CURRICULA = ("none", "single_step", "easiest_half", "hardest_half", "random_half")


def check_curriculum(curriculum: str) -> None:
    if curriculum not in CURRICULA:
        raise ConfigError(f"method.curriculum: unknown curriculum '{curriculum}' (valid: {', '.join(CURRICULA)})")


def motion_concentration(magnitude_u: np.ndarray, magnitude_v: np.ndarray) -> float:
    """Eq. 3.1 from the magnitude maps [H, W] of the summed motion boundaries M_u and M_v."""
    regions = pattern_regions(1, *magnitude_u.shape)
    ratios = []
    for magnitude in (magnitude_u, magnitude_v):
        total = float(magnitude.sum())
        block_sums = np.bincount(regions.ravel(), weights=magnitude.ravel(), minlength=REGION_COUNTS[1])
        block_means = block_sums / np.bincount(regions.ravel(), minlength=REGION_COUNTS[1])
        ratios.append(float(block_sums[np.argmax(block_means)]) / total if total > 0 else 0.0)
    return max(ratios)


def easy_to_hard(scores) -> np.ndarray:
    """Indices sorted by descending score; equal scores keep their dataset order."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def half_size(count: int) -> int:
    return (count + 1) // 2


def curriculum_indices(scores, curriculum: str, epoch: int, step_epochs: int) -> np.ndarray:
    """The dataset indices an epoch trains on, in easy-to-hard order (``random_half``: dataset order)."""
    check_curriculum(curriculum)
    order = easy_to_hard(scores)
    half = half_size(len(order))
    if curriculum == "none":
        return np.arange(len(order))
    if curriculum == "single_step":
        return order[:half] if epoch < step_epochs else order
    if curriculum == "easiest_half":
        return order[:half]
    if curriculum == "hardest_half":
        return order[half:]
    return np.arange(0, len(order), 2)  # random_half


class CurriculumOrder(Sampler):
    """The epoch's curriculum videos, shuffled from (seed, epoch) and repeated to ``len(self)``; yields
    (epoch, index) keys for ``VideoClipDataset``."""

    def __init__(self, scores, curriculum: str, step_epochs: int, seed: int = 0):
        check_curriculum(curriculum)
        if isinstance(step_epochs, bool) or not isinstance(step_epochs, int) or step_epochs < 0:
            raise ConfigError(f"method.curriculum_step_epochs: expected an integer >= 0, got {step_epochs!r}")
        self.scores = np.asarray(scores, dtype=np.float64)
        self.curriculum = curriculum
        self.step_epochs = step_epochs
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self, epoch: int) -> np.ndarray:
        return curriculum_indices(self.scores, self.curriculum, epoch, self.step_epochs)

    def __iter__(self):
        chosen = self.indices(self.epoch)
        seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
        generator = torch.Generator().manual_seed(seed)
        passes = -(-len(self) // len(chosen))
        shuffled = np.concatenate([chosen[torch.randperm(len(chosen), generator=generator).numpy()]
                                   for _ in range(passes)])
        return iter([(self.epoch, int(i)) for i in shuffled[:len(self)]])

    def __len__(self) -> int:
        """Clips per epoch: the videos the curriculum ends with (all of them for ``single_step``)."""
        return len(self.indices(self.step_epochs))
