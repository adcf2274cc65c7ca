"""Detection mAP with the official ActivityNet semantics, by hand."""

import numpy as np
import pytest

from vssl.evaluation.detection import (ACTIVITYNET_DETECTION_TIOU, THUMOS_DETECTION_TIOU, average_precision,
                                       detection_map, interpolated_average_precision)

TRUTH = {"v1": np.array([[0.0, 10.0], [20.0, 30.0]])}
PREDICTIONS = [("v1", 0.0, 10.0, 0.9), ("v1", 1.0, 9.0, 0.8), ("v1", 20.0, 28.0, 0.7)]


def test_interpolated_ap_by_hand():
    """precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: made monotone 1, 2/3, 2/3: 1/2 · 1 + 1/2 · 2/3."""
    assert interpolated_average_precision(np.array([1, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])) == \
        pytest.approx(0.5 + 1 / 3)


def test_ap_at_two_thresholds_by_hand():
    """At 0.5: [0, 10] hits, [1, 9] finds its best segment taken (a miss), [20, 28] hits at tIoU 0.8 → 5/6.
    At 0.9: [20, 28] misses too → precision 1, 1/2, 1/3 at recall 1/2 → 1/2."""
    ap = average_precision(TRUTH, PREDICTIONS, (0.5, 0.9))
    np.testing.assert_allclose(ap, [5 / 6, 0.5])


def test_map_over_classes_and_the_published_thresholds():
    assert THUMOS_DETECTION_TIOU == (0.3, 0.4, 0.5, 0.6, 0.7) and ACTIVITYNET_DETECTION_TIOU == (0.5, 0.75, 0.95)
    truth = {"jump": TRUTH, "vault": {"v2": np.array([[5.0, 6.0]])}}
    result = detection_map(truth, {"jump": PREDICTIONS}, (0.5, 0.9))
    assert result == {0.5: pytest.approx((5 / 6 + 0) / 2), 0.9: pytest.approx((0.5 + 0) / 2)}  # vault: no predictions
    perfect = detection_map(truth, {"jump": [("v1", 0, 10, 1.0), ("v1", 20, 30, 0.5)], "vault": [("v2", 5, 6, 0.3)]},
                            (0.5,))
    assert perfect == {0.5: pytest.approx(1.0)}
