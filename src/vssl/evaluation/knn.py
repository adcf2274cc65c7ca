"""Cosine k-nearest-neighbour classification on video-level (clip-averaged) frozen features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vssl.core.config import ranged


# Wu et al. 2018 (instance discrimination): each neighbour votes exp(similarity / 0.07), so vote ties all but vanish
# and a value does not depend on which class index a tie would go to. None: one vote per neighbour (majority).
WEIGHTED_VOTE_TEMPERATURE = 0.07


@dataclass
class KnnConfig:
    k: int = ranged(20, ge=1)
    temperature: float | None = ranged(WEIGHTED_VOTE_TEMPERATURE, gt=0)  # None (YAML null): majority vote


def knn_rule(k: int, temperature: float | None) -> str:
    """The settings that decide a kNN value, as stored with it (``Result.rule``)."""
    vote = "majority vote" if temperature is None else f"exp(sim/{temperature:g}) vote"
    return f"k={k}, {vote}, ties to lower class"


def knn_scores(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
               num_classes: int, k: int = 20, temperature: float | None = WEIGHTED_VOTE_TEMPERATURE) -> torch.Tensor:
    """Class votes [M, num_classes] of each test video's k most cosine-similar training videos.

    Each neighbour votes 1 (plain majority), or exp(similarity / temperature) when a temperature is
    given (the weighted vote of Wu et al. 2018). Ties in a plain vote go to the lower class index
    (``vssl.evaluation.metrics.ranked_classes``, which every metric predicts by).
    """
    train = F.normalize(train_features, dim=1)
    test = F.normalize(test_features, dim=1)
    similarity = test @ train.t()
    k = min(k, train.shape[0])
    top_similarity, top_index = similarity.topk(k, dim=1)
    weights = torch.ones_like(top_similarity) if temperature is None else (top_similarity / temperature).exp()
    votes = torch.zeros(test.shape[0], num_classes, device=test.device)  # on the features' device
    votes.scatter_add_(1, train_labels.to(test.device)[top_index], weights)
    return votes
