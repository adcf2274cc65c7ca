"""Linear SVMs on frozen video features: classification (train/test or leave-one-video-out, the YUPENN protocol)
and ASLAN same/not-same action similarity, as Wang 2020 §2.4 and §3.6.3-3.6.4 evaluate them.

Video features are the views' features averaged, then L2-normalised (Wang 2020 §3.6.3).

ASLAN (Kliper-Gross et al. 2012, the protocol Wang 2020 §3.6.4 follows): a pair of videos becomes, for each tap
(pool3, pool4, pool5), the 12 (dis)similarities of Wang 2020 Table 3.9 between the two feature vectors x₁, x₂:

 1. Σ x₁x₂                      5. Σ x₁x₂ / (‖x₁‖‖x₂‖)          9. (Σ x₁ log(x₁/x₂) + Σ x₂ log(x₂/x₁)) / 2
 2. √(Σ x₁x₂)                   6. √(Σ (x₁ − x₂)² / (x₁ + x₂))  10. √(Σ (x₁ − x₂)²)
 3. √(Σ √x₁ √x₂)                7. Σ |x₁ − x₂|                  11. Σ √max(x₁, x₂) / √(x₁ + x₂)
 4. √(Σ x₁x₂ / (x₁ + x₂))       8. √(Σ (√x₁ − √x₂)²)            12. Σ min(x₁, x₂) / (Σ x₁ · Σ x₂)

Table 3.9 prints measure 6 as √Σ((x₁x₂)² / (x₁ + x₂)), a typo of the χ² distance written here (the spec digest
flags it), and measure 7 without the absolute-value bars lost in the text; all others are as printed. Sums run
over feature dimensions. The measures are defined for non-negative features (histograms in ASLAN; ReLU outputs of
the CNN taps here): negative values are an error. Terms 0/0 (x₁ = x₂ = 0 in measures 4, 6, 11) count as 0, and
measure 9 adds 1e-10 inside the logarithm's ratio. The concatenated 12·taps vector is z-normalised per dimension
with the statistics of the training folds, then a linear SVM decides same/not-same; each of the 10 official folds
is tested by an SVM trained on the other 9 (Wang 2020 §3.6.4: "10-fold leave-one-out cross validation").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from vssl.core.config import ranged
from vssl.core.errors import VsslError

if TYPE_CHECKING:
    from sklearn.svm import LinearSVC

SVM_C = 1.0  # Wang 2020 does not give C; scikit-learn's LinearSVC default
SVM_MAX_ITER = 10_000  # liblinear's default 1000 iterations often stop short on a few hundred dense features
KL_EPSILON = 1e-10


@dataclass
class SvmConfig:
    tap: str = "pool5"  # Wang 2020 §2.4: the last conv layer; §3.6.3 picks pool3 (C3D, R(2+1)D) or pool4 (R3D)
    c: float = ranged(SVM_C, gt=0)
    # split: train on the train split, test on the test split; leave_one_out: YUPENN (Wang 2020 §2.4), every
    # test-split video scored by an SVM on all others; aslan: ASLAN same/not-same pairs (Wang 2020 §3.6), the 12
    # similarities of aslan_taps' features per pair, 10-fold cross-validation over the pair file's folds.
    protocol: str = "split"
    aslan_taps: tuple[str, ...] = ("pool3", "pool4", "pool5")  # Wang 2020 §3.6.3: pool3, pool4 and pool5


def video_features(features: torch.Tensor) -> torch.Tensor:
    """[N, V, D] per-view features → [N, D] view-averaged, L2-normalised video features."""
    return F.normalize(features.mean(dim=1), dim=1)


def _linear_svm(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> LinearSVC:
    from sklearn.svm import LinearSVC  # scikit-learn takes about 1 s to import: only when an SVM is trained

    return LinearSVC(C=c, max_iter=SVM_MAX_ITER, random_state=seed).fit(x, y)


def _class_scores(svm: LinearSVC, x: np.ndarray, num_classes: int) -> np.ndarray:
    """Decision values [M, num_classes]; classes absent from the training labels score -inf."""
    decision = svm.decision_function(x)
    if decision.ndim == 1:  # binary: positive means svm.classes_[1]
        decision = np.stack([-decision, decision], axis=1)
    scores = np.full((x.shape[0], num_classes), -np.inf)
    scores[:, svm.classes_] = decision
    return scores


def svm_scores(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
               num_classes: int, c: float = SVM_C, seed: int = 0) -> torch.Tensor:
    """One-vs-rest linear SVM trained on [N, D] video features; → test decision values [M, num_classes]."""
    svm = _linear_svm(train_features.numpy(), train_labels.numpy(), c, seed)
    return torch.from_numpy(_class_scores(svm, test_features.numpy(), num_classes)).float()


def leave_one_out_scores(features: torch.Tensor, labels: torch.Tensor, num_classes: int, c: float = SVM_C,
                         seed: int = 0) -> torch.Tensor:
    """Leave-one-video-out (the YUPENN protocol): each video is scored by an SVM trained on all the others."""
    x, y = features.numpy(), labels.numpy()
    scores = np.empty((len(y), num_classes))
    for i in range(len(y)):
        others = np.arange(len(y)) != i
        scores[i] = _class_scores(_linear_svm(x[others], y[others], c, seed), x[i:i + 1], num_classes)[0]
    return torch.from_numpy(scores).float()


def aslan_measures(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 12 measures of the module docstring between rows of [P, D] non-negative arrays → [P, 12]."""
    if (a < 0).any() or (b < 0).any():
        raise VsslError("ASLAN similarity measures need non-negative features (e.g. ReLU outputs); got negative "
                        "values")
    a, b = a.astype(np.float64), b.astype(np.float64)
    total = a + b
    nonzero = total > 0
    safe_total = np.where(nonzero, total, 1.0)

    def ratio_sum(numerator: np.ndarray) -> np.ndarray:  # Σ numerator / (x₁ + x₂), 0/0 terms dropped
        return np.where(nonzero, numerator / safe_total, 0.0).sum(axis=1)

    dot = (a * b).sum(axis=1)
    kl = (a * np.log((a + KL_EPSILON) / (b + KL_EPSILON))).sum(axis=1) \
        + (b * np.log((b + KL_EPSILON) / (a + KL_EPSILON))).sum(axis=1)
    return np.stack([
        dot,
        np.sqrt(dot),
        np.sqrt((np.sqrt(a) * np.sqrt(b)).sum(axis=1)),
        np.sqrt(ratio_sum(a * b)),
        dot / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)),
        np.sqrt(ratio_sum((a - b) ** 2)),
        np.abs(a - b).sum(axis=1),
        np.sqrt(((np.sqrt(a) - np.sqrt(b)) ** 2).sum(axis=1)),
        kl / 2,
        np.sqrt(((a - b) ** 2).sum(axis=1)),
        np.where(nonzero, np.sqrt(np.maximum(a, b)) / np.sqrt(safe_total), 0.0).sum(axis=1),
        np.minimum(a, b).sum(axis=1) / (a.sum(axis=1) * b.sum(axis=1)),
    ], axis=1)


def aslan_pair_features(features_by_tap: list[torch.Tensor], index_a: np.ndarray, index_b: np.ndarray) -> np.ndarray:
    """[P, 12·taps]: the 12 measures between the videos of each pair, for each tap's [N, D] video features."""
    return np.concatenate([aslan_measures(f.numpy()[index_a], f.numpy()[index_b]) for f in features_by_tap], axis=1)


def aslan_accuracy(features_by_tap: list[torch.Tensor], pairs: list[tuple[int, int, int, bool]], c: float = SVM_C,
                   seed: int = 0) -> list[float]:
    """Same/not-same accuracy (%) of each fold, testing it with an SVM trained on the other folds.

    ``pairs`` are (fold, index_a, index_b, same): indices into the rows of every tap's [N, D] video features
    (view-averaged and L2-normalised, see :func:`video_features`); folds are numbered as the pair file numbers them.
    """
    if not pairs:
        raise VsslError("ASLAN evaluation needs at least one pair")
    folds, index_a, index_b, same = (np.array(column) for column in zip(*pairs))
    if len(np.unique(folds)) < 2:
        raise VsslError(f"ASLAN evaluation needs pairs from at least 2 folds, got fold(s) {sorted(set(folds))}")
    x = aslan_pair_features(features_by_tap, index_a.astype(int), index_b.astype(int))
    y = same.astype(bool).astype(int)
    accuracies = []
    for fold in np.unique(folds):
        test = folds == fold
        mean, std = x[~test].mean(axis=0), x[~test].std(axis=0)
        std = np.where(std > 0, std, 1.0)
        svm = _linear_svm((x[~test] - mean) / std, y[~test], c, seed)
        accuracies.append(100.0 * (svm.predict((x[test] - mean) / std) == y[test]).mean())
    return accuracies
