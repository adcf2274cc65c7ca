"""Pretext samplers: hand-worked frame indices for every pace and clip tuple, and exact label recovery from them."""

import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.methods.pretext_sampling import (ClipTupleSampler, PaceClipSampler, check_paces, pace_indices, pace_label,
                                        pace_span, tuple_order)


@pytest.mark.parametrize("start, clip_len, pace, expected", [
    (10, 4, 1, [10, 11, 12, 13]),
    (10, 4, 2, [10, 12, 14, 16]),
    (10, 4, 4, [10, 14, 18, 22]),
    (11, 5, 3, [11, 14, 17, 20, 23]),  # Wang 2020 §4.2.2: "super fast clip with p = 3 contains frames 11, 14, …, 23"
    (10, 4, 0.5, [10, 10, 11, 11]),  # slow pace: the preceding frame fills every other position
    (1, 5, 0.5, [1, 1, 2, 2, 3]),  # §4.2.2: p = 1/2 fills positions 1, 3, 5 of a five-frame clip
    (0, 6, 0.3333333333, [0, 0, 0, 1, 1, 1]),  # a YAML-rounded 1/3 is read as exactly 1/3
    (0, 4, 1.5, [0, 1, 3, 4]),
])
def test_pace_indices_by_hand(start, clip_len, pace, expected):
    assert pace_indices(start, clip_len, pace) == expected
    assert pace_span(clip_len, pace) == expected[-1] - expected[0] + 1


def test_paces_that_give_the_same_frames_are_rejected():
    with pytest.raises(VsslError, match="same frames"):
        check_paces((1.0, 1.1), clip_len=4)  # ⌊i·1.1⌋ = i for i < 4
    assert check_paces((1.0, 1.1), clip_len=11) == (1.0, 1.1)  # ⌊10·1.1⌋ = 11 tells them apart
    with pytest.raises(VsslError, match="> 0"):
        pace_indices(0, 4, 0)


def test_pace_label_inverts_every_pace_at_every_start():
    paces = (0.5, 1.0, 2.0, 3.0, 4.0)
    for label, pace in enumerate(paces):
        for start in (0, 7, 120):
            assert pace_label(pace_indices(start, 8, pace), paces) == label


def test_pace_sampler_draws_fitting_paces_whose_labels_read_back():
    paces = (1.0, 2.0, 3.0, 4.0)
    sampler = PaceClipSampler(clip_len=4, paces=paces)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        (clip,) = sampler(num_frames=20, fps=8.0, rng=rng)
        label = pace_label(clip, paces)
        seen.add(label)
        assert clip == pace_indices(clip[0], 4, paces[label]) and 0 <= clip[0] and clip[-1] <= 19
    assert seen == {0, 1, 2, 3}  # pace 4 spans 13 frames: it fits in 20
    again = [PaceClipSampler(4, paces)(20, 8.0, np.random.default_rng(5)) for _ in range(2)]
    assert again[0] == again[1]  # the item's seed reproduces clip and label


def test_short_videos_get_only_the_paces_that_fit_or_the_slowest_clamped():
    paces = (1.0, 2.0, 3.0, 4.0)
    rng = np.random.default_rng(1)
    for _ in range(20):  # 6 frames: only pace 1 (span 4) fits
        (clip,) = PaceClipSampler(4, paces)(6, 8.0, rng)
        assert pace_label(clip, paces) == 0 and clip == pace_indices(clip[0], 4, 1) and clip[0] <= 2
    assert PaceClipSampler(4, paces)(3, 8.0, rng) == [[0, 1, 2, 2]]  # too short for all: slowest, clamped
    assert pace_label([0, 1, 2, 2], paces) == 0
    assert pace_label([0, 0, 1, 1], (2.0, 0.5, 1.0)) == 1  # the slowest pace need not come first


def test_two_clips_per_video_get_different_paces():
    sampler = PaceClipSampler(clip_len=4, paces=(1.0, 2.0, 3.0), num_clips=2)
    rng = np.random.default_rng(2)
    for _ in range(50):
        first, second = sampler(40, 8.0, rng)
        assert pace_label(first, sampler.paces) != pace_label(second, sampler.paces)


def test_clip_tuple_sampler_places_clips_gap_apart_and_shuffles_them():
    sampler = ClipTupleSampler(clip_len=4, stride=1, gap=2, tuple_len=3)  # tuple spans 3·4 + 2·2 = 16 frames
    rng = np.random.default_rng(0)
    orders = set()
    for _ in range(100):
        clips = sampler(30, 8.0, rng)
        start = min(clip[0] for clip in clips)
        in_time = sorted(clips)
        assert in_time == [list(range(start + 6 * k, start + 6 * k + 4)) for k in range(3)] and 0 <= start <= 14
        order = tuple_order([clip[0] for clip in clips])
        assert [clips[position] for position in sorted(range(3), key=lambda p: order[p])] == in_time
        orders.add(order)
    assert len(orders) == 6  # every permutation of 3 clips occurs
    assert sampler(30, 8.0, np.random.default_rng(3)) == sampler(30, 8.0, np.random.default_rng(3))


def test_clip_tuple_sampler_squeezes_short_videos_keeping_distinct_starts():
    sampler = ClipTupleSampler(clip_len=4, stride=1, gap=8, tuple_len=3)
    clips = sampler(9, 8.0, np.random.default_rng(0))
    assert sorted(clips) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 8]]  # starts ⌊k·9/3⌋, last frame clamped
    assert sampler(2, 8.0, np.random.default_rng(0)) == [[0, 1, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1]]  # kept in order
    assert tuple_order([0, 0, 1]) == (0, 1, 2)


def test_tuple_order_is_the_temporal_rank_of_each_position():
    assert tuple_order([20, 0, 10]) == (2, 0, 1)
    assert tuple_order([5, 9, 1, 3]) == (2, 3, 0, 1)
