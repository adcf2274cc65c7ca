"""VCOP, video clip order prediction (Xu et al. 2019; Kumar et al. 2023): classify the permutation of N shuffled clips.

Kumar et al. 2023 §3.1: "N ordered sub-clips (16 frames, gap 8), shuffled; shared backbone features; pairwise concat → FC →
concat → N! logits" [ext: the VCOP code's VCOPN]. The sampler (:class:`ClipTupleSampler`) draws the tuple and its
shuffle from the item's seeded generator and hands the clips over in shuffled order; the label is read back from the
batch's frame indices: position i holds the clip of temporal rank ``order[i]``, and the class is the index of
``order`` in the lexicographic list of all N! permutations (``itertools.permutations(range(N))``, VCOP's
``order_class_index``). For N = 3: (0,1,2)→0, (0,2,1)→1, (1,0,2)→2, (1,2,0)→3, (2,0,1)→4, (2,1,0)→5.

Complexity (Kumar et al. 2023 §4.3: "increase the number of shuffle clips from 3 to 5"): C1/C2/C3 = N of 3/4/5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.methods.pretext_sampling import ClipTupleSampler, tuple_order
from vssl.methods.pretext_common import PretextMethod, apply_complexity, reject_fps_jitter

TUPLE_LEVELS = {"C1": 3, "C2": 4, "C3": 5}


@dataclass
class VCOPConfig:
    tuple_len: int = 3  # N clips per tuple; VCOP code default `--tl 3` (Kumar et al. 2023 C1)
    complexity: str | None = None  # C1/C2/C3 = N of 3/4/5 (Kumar et al. 2023 §4.3); None = use `tuple_len`
    gap: int = ranged(8, ge=1)  # frames between consecutive clips; VCOP code `interval` 8 (Kumar et al. 2023 §1: "gap 8")
    hidden_dim: int = ranged(512, ge=1)  # fc7 width applied to each concatenated pair (VCOP code)
    dropout: float = ranged(0.5, ge=0, le=1)  # before the final classifier (VCOP code)

    def __post_init__(self):
        apply_complexity(self, "tuple_len", TUPLE_LEVELS)
        if not 2 <= self.tuple_len <= 6:
            raise ConfigError(f"method.tuple_len: expected 2 to 6 clips, got {self.tuple_len!r}")
        if self.gap < 0:
            raise ConfigError(f"method.gap: expected frames >= 0, got {self.gap!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"method.dropout: expected a probability in [0, 1), got {self.dropout!r}")


def permutation_index(order) -> int:
    """Index of the permutation ``order`` of 0..N−1 in lexicographic order (its Lehmer code read in factorial base)."""
    order = list(order)
    index = 0
    for position, value in enumerate(order):
        smaller_later = sum(later < value for later in order[position + 1:])
        index += smaller_later * math.factorial(len(order) - 1 - position)
    return index


def order_labels(frames: torch.Tensor) -> torch.Tensor:
    """Permutation class of every tuple from the batch's frame indices [B, N, T]."""
    return torch.tensor([permutation_index(tuple_order(row[:, 0].tolist())) for row in frames], dtype=torch.long)


class VCOP(PretextMethod):
    """Shared backbone on each clip, fc7 + ReLU on every pair of clip features, concatenation, dropout, N!-way fc8."""

    def __init__(self, backbone, config: VCOPConfig, optim):
        super().__init__(backbone, config, optim)
        num_pairs = math.comb(config.tuple_len, 2)
        self.pair_head = nn.Sequential(nn.Linear(2 * backbone.feature_dim, config.hidden_dim), nn.ReLU(inplace=True))
        self.order_head = nn.Sequential(nn.Dropout(config.dropout),
                                        nn.Linear(num_pairs * config.hidden_dim, math.factorial(config.tuple_len)))

    @classmethod
    def build_sampler(cls, config, data):
        """N clips of data.clip_len frames at data.stride, ``gap`` frames apart, in shuffled order."""
        reject_fps_jitter("vcop", data)
        return ClipTupleSampler(data.clip_len, data.stride, config.gap, config.tuple_len)

    def order_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Clip features [B, N, d] (in shuffled order) → N! order logits."""
        num_clips = features.shape[1]
        pairs = [torch.cat([features[:, i], features[:, j]], dim=1)
                 for i in range(num_clips) for j in range(i + 1, num_clips)]
        return self.order_head(torch.cat([self.pair_head(pair) for pair in pairs], dim=1))

    def train_batch(self, batch: dict) -> torch.Tensor:
        clips = batch["clips"]  # [B, N, C, T, H, W]
        labels = order_labels(batch["frames"]).to(clips.device)
        features = self.backbone(clips.flatten(0, 1)).view(clips.shape[0], clips.shape[1], -1)
        logits = self.order_logits(features)
        loss = F.cross_entropy(logits, labels)
        self.manual_backward(loss)
        self.log_pretext(logits, labels, loss)
        return loss.detach()
