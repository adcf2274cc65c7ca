"""AR@AN with the official ActivityNet semantics, by hand: an average budget, not a per-video top-N."""

import numpy as np
import pytest

from vssl.evaluation.proposals import (ACTIVITYNET_TIOU, THUMOS_TIOU, average_recall_at, average_recall_curve,
                                       recall_at_tiou, segment_iou)

TRUTH = {"a": np.array([[0.0, 10.0]]), "b": np.array([[0.0, 10.0], [20.0, 30.0]])}
PROPOSALS = {
    "a": np.array([[20.0, 30.0, 0.5], [0.0, 10.0, 0.9]]),  # best first after sorting: tIoU 1, then 0
    "b": np.array([[20.0, 30.0, 0.9], [0.0, 5.0, 0.8], [0.0, 9.0, 0.7], [40.0, 50.0, 0.1]]),
}


def test_tiou_by_hand():
    candidates = np.array([[0.0, 5.0], [0.0, 9.0], [5.0, 15.0], [20.0, 30.0]])
    np.testing.assert_allclose(segment_iou(np.array([0.0, 10.0]), candidates), [0.5, 0.9, 5 / 15, 0.0])


def test_thresholds_are_the_published_ones():
    assert THUMOS_TIOU.tolist() == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
    np.testing.assert_allclose(ACTIVITYNET_TIOU, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])


def test_average_recall_with_a_budget_of_two_per_video_by_hand():
    """6 proposals over 2 videos, budget 2: ratio 2·2/6, so 'a' keeps int(2·2/3) = 1 and 'b' int(4·2/3) = 2 (3 kept).
    At AN = 1 (j = 50, fraction 2/3): 'a' looks at int(1·2/3) = 0 proposals, 'b' at 1, which finds [20, 30]:
    1 of 3 ground truths at every threshold → 1/3 (a per-video top-1 would say 2/3). At AN = 2: 'a' finds its
    segment, 'b' adds [0, 5] at tIoU 0.5 → 3/3 at 0.5 and 2/3 at the nine others → (1 + 9·2/3) / 10 = 0.7."""
    recall, average, per_video = average_recall_curve(TRUTH, PROPOSALS, max_avg=2)
    assert per_video[49] == pytest.approx(1.0) and per_video[99] == pytest.approx(2.0)
    assert average[49] == pytest.approx(1 / 3)
    assert average[99] == pytest.approx(0.7)
    assert recall[0, 99] == pytest.approx(1.0) and recall[1, 99] == pytest.approx(2 / 3)


def test_a_video_without_proposals_misses_its_ground_truth_and_ar_at_reads_the_curve():
    """With a third video 'c' and no proposals for it, the budget of 2 over 3 videos (ratio 2·3/6 = 1) lets 'a' and
    'b' keep all 6: 'b' finds [0, 10] up to tIoU 0.9 ([0, 9]) and [20, 30] always, 'c' nothing. 4 ground truths:
    3/4 at nine thresholds, 2/4 at 0.95 → 0.725."""
    truth = {**TRUTH, "c": np.array([[0.0, 4.0]])}
    _, average, per_video = average_recall_curve(truth, PROPOSALS, max_avg=2)
    assert per_video[-1] == pytest.approx(2.0) and average[-1] == pytest.approx(0.725)
    at = average_recall_at(TRUTH, PROPOSALS, points=(1, 2))
    assert at == {1: pytest.approx(1 / 3), 2: pytest.approx(0.7)}
    np.testing.assert_allclose(recall_at_tiou(TRUTH, PROPOSALS, 2, np.array([0.5, 0.95])), [1.0, 2 / 3])


def test_no_proposals_at_all_is_an_error():
    with pytest.raises(ValueError, match="no proposals"):
        average_recall_curve(TRUTH, {})
