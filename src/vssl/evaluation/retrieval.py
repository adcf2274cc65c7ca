"""Video retrieval (Wang 2020 §3.6.2, Kumar et al. 2023 §5): each test video queries the training videos by cosine similarity.

A query is a hit at k when any of its k most similar training videos has its class; the top-k score is the
percentage of hits over all test videos. Features are one vector per video (the views' features averaged).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vssl.core.config import ranged

RETRIEVAL_TOP_K = (1, 5, 10, 20, 50)  # Wang 2020 Tables 3.5/3.6 and 4.8-4.10; Kumar et al. 2023 §5
PROTOCOL_PREFIX = "retrieval@"


@dataclass
class RetrievalConfig:
    # Taps by pool name (see vssl.evaluation.taps), backbone tap name, a comma-separated string of them, or "all".
    # Wang 2020 Tables 3.5/3.6 report pool5; its Fig. 3.8 compares pool1-pool5 (best: pool3/pool4).
    taps: tuple[str, ...] | str = ("pool5",)
    top_k: tuple[int, ...] = ranged(RETRIEVAL_TOP_K, ge=1)


def retrieval_topk(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                   test_labels: torch.Tensor, top_k: tuple[int, ...] = RETRIEVAL_TOP_K) -> dict[int, float]:
    """{k: top-k hit rate in %} of test → train retrieval on [N, D] / [M, D] video features.

    A k larger than the number of training videos counts every training video as retrieved.
    """
    similarity = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).t()
    depth = min(max(top_k), train_features.shape[0])
    neighbours = similarity.topk(depth, dim=1).indices
    hit_by_rank = (train_labels[neighbours] == test_labels[:, None]).cumsum(dim=1) > 0
    return {k: 100.0 * hit_by_rank[:, min(k, depth) - 1].float().mean().item() for k in top_k}


def protocol_name(tap: str) -> str:
    """The results-store protocol of retrieval from ``tap`` (a backbone tap name)."""
    return PROTOCOL_PREFIX + tap
