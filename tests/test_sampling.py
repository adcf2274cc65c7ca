"""Clip samplers: exact frame indices, reachability of every start, clamping and the ρ distance bound."""

import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.data.sampling import RandomClipSampler, RhoClipSampler, UniformClipSampler, clip_span


def test_clip_span_counts_first_to_last_frame():
    assert clip_span(4, 2) == 7
    assert clip_span(8, 8) == 57
    assert clip_span(1, 5) == 1


def test_random_clip_is_start_plus_stride_offsets():
    sampler = RandomClipSampler(clip_len=4, stride=2)
    clips = sampler(20, 25.0, np.random.default_rng(0))
    assert len(clips) == 1
    start = clips[0][0]
    assert 0 <= start <= 13  # 20 frames - span 7
    assert clips[0] == [start, start + 2, start + 4, start + 6]


def test_random_clip_reaches_every_valid_start():
    sampler = RandomClipSampler(4, 2)
    rng = np.random.default_rng(1)
    starts = {sampler(20, 25.0, rng)[0][0] for _ in range(1000)}
    assert starts == set(range(14))


def test_random_clip_is_reproducible_for_a_seed():
    sampler = RandomClipSampler(4, 2)
    first = [sampler(300, 30.0, np.random.default_rng(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert [sampler(300, 30.0, rng_a) for _ in range(20)] == [sampler(300, 30.0, rng_b) for _ in range(20)]


def test_short_video_starts_at_zero_and_repeats_last_frame():
    # span (4 - 1) * 3 + 1 = 10 > 6 frames
    assert RandomClipSampler(4, 3)(6, 25.0, np.random.default_rng(0)) == [[0, 3, 5, 5]]
    assert UniformClipSampler(4, 3, 2)(6, 25.0) == [[0, 3, 5, 5], [0, 3, 5, 5]]
    assert RhoClipSampler(4, 3, rho=2)(6, 25.0, np.random.default_rng(0)) == [[0, 3, 5, 5], [0, 3, 5, 5]]
    assert RandomClipSampler(3, 2)(1, 25.0, np.random.default_rng(0)) == [[0, 0, 0]]


def test_uniform_clips_hand_computed():
    # starts = round(linspace(0, 13, 3)) = [0, 6.5 -> 7, 13]
    assert UniformClipSampler(4, 2, 3)(20, 25.0) == [[0, 2, 4, 6], [7, 9, 11, 13], [13, 15, 17, 19]]
    # linspace(0, 13, 4) = [0, 4.33, 8.67, 13]
    starts = [clip[0] for clip in UniformClipSampler(4, 2, 4)(20, 25.0)]
    assert starts == [0, 4, 9, 13]


def test_single_uniform_clip_is_centred():
    assert UniformClipSampler(4, 2, 1)(20, 25.0) == [[6, 8, 10, 12]]  # floor(13 / 2) = 6
    assert UniformClipSampler(4, 2, 1)(21, 25.0) == [[7, 9, 11, 13]]  # 14 / 2 = 7: 7 frames each side


def test_uniform_clips_ignore_rng():
    sampler = UniformClipSampler(8, 4, 10)
    expected = sampler(500, 30.0)
    assert sampler(500, 30.0, np.random.default_rng(0)) == sampler(500, 30.0, np.random.default_rng(99)) == expected


def test_rho_returns_rho_clips_of_strided_frames():
    clips = RhoClipSampler(4, 2, rho=3)(100, 25.0, np.random.default_rng(0))
    assert len(clips) == 3
    for clip in clips:
        assert 0 <= clip[0] <= 93
        assert clip == [clip[0] + offset for offset in (0, 2, 4, 6)]
    assert len(RhoClipSampler(4, 2, rho=1)(100, 25.0, np.random.default_rng(0))) == 1


def test_rho_clip_starts_are_independent_and_global():
    sampler = RhoClipSampler(2, 1, rho=2)
    rng = np.random.default_rng(3)
    pairs = [tuple(clip[0] for clip in sampler(11, 25.0, rng)) for _ in range(2000)]
    firsts, seconds = zip(*pairs)
    assert set(firsts) == set(seconds) == set(range(10))
    assert max(abs(a - b) for a, b in pairs) == 9


def test_rho_max_distance_is_never_exceeded():
    sampler = RhoClipSampler(4, 2, rho=3, max_distance_s=1.0)
    rng = np.random.default_rng(0)
    widest = 0
    for _ in range(500):
        starts = [clip[0] for clip in sampler(300, 10.0, rng)]
        widest = max(widest, max(starts) - min(starts))
    assert widest <= 10  # 1.0 s at 10 fps
    assert widest >= 8  # the window is actually used, not collapsed to one start


def test_rho_max_distance_falls_back_to_the_window_when_retries_miss():
    # 0 s apart in a million-frame video: a uniform redraw almost never lands, the fallback must.
    sampler = RhoClipSampler(1, 1, rho=4, max_distance_s=0.0)
    for seed in range(5):
        starts = [clip[0] for clip in sampler(1_000_000, 30.0, np.random.default_rng(seed))]
        assert len(set(starts)) == 1


def test_rho_is_reproducible_for_a_seed():
    sampler = RhoClipSampler(8, 8, rho=4, max_distance_s=2.0)
    assert sampler(1000, 30.0, np.random.default_rng(5)) == sampler(1000, 30.0, np.random.default_rng(5))
    assert sampler(1000, 30.0, np.random.default_rng(5)) != sampler(1000, 30.0, np.random.default_rng(6))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RandomClipSampler(0, 1), "clip_len"),
        (lambda: RandomClipSampler(4, 0), "stride"),
        (lambda: UniformClipSampler(4, 1, 0), "num_clips"),
        (lambda: RhoClipSampler(4, 1, rho=0), "rho"),
        (lambda: RhoClipSampler(4, 1, rho=2, max_distance_s=-1.0), "max_distance_s"),
        (lambda: RandomClipSampler(2.5, 1), "clip_len"),
    ],
)
def test_bad_arguments_raise_vssl_error(make, message):
    with pytest.raises(VsslError, match=message):
        make()


def test_bad_num_frames_and_fps_raise_vssl_error():
    rng = np.random.default_rng(0)
    with pytest.raises(VsslError, match="num_frames.*0"):
        RandomClipSampler(4, 2)(0, 25.0, rng)
    with pytest.raises(VsslError, match="num_frames"):
        UniformClipSampler(4, 2, 3)(-3, 25.0)
    with pytest.raises(VsslError, match="fps"):
        RhoClipSampler(4, 2, rho=2, max_distance_s=1.0)(100, 0.0, rng)
