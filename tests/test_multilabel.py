"""Charades-style mAP by hand: per-class AP over videos, classes without positives left out."""

import numpy as np
import pytest

from vssl.evaluation.multilabel import class_average_precision, mean_average_precision


def test_average_precision_by_hand():
    """Ranked 0.9 (pos), 0.8 (neg), 0.7 (pos): precisions at the hits 1/1 and 2/3 → 5/6."""
    assert class_average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == pytest.approx(5 / 6)
    assert np.isnan(class_average_precision(np.array([0.3, 0.2]), np.array([0, 0])))


def test_map_skips_classes_without_positives_and_handles_duplicates():
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.2, 0.5], [0.7, 0.3, 0.5]])
    targets = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 1]])
    # class 0: 5/6 as above; class 1: no positive, left out; class 2: equal scores keep the order: hits at
    # ranks 2 and 3 → (1/2 + 2/3) / 2 = 7/12
    assert mean_average_precision(scores, targets) == pytest.approx((5 / 6 + 7 / 12) / 2)
