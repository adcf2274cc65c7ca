"""Clip samplers: map a video's frame count (and fps) to the frame indices of the clips to decode.

Every sampler is a small callable, ``sampler(num_frames, fps, rng) -> list[list[int]]``, returning
clips × frames of 0-based frame indices relative to the start of the video (or segment). Randomness
comes only from the passed ``numpy.random.Generator``, so a seeded generator reproduces the clips.

A clip of ``clip_len`` frames at temporal ``stride`` spans ``(clip_len - 1) * stride + 1`` raw frames.
When a video is shorter than that span, the clip starts at frame 0 and indices past the end are
clamped to the last frame (the last frame repeats, as in pytorchvideo).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from vssl.core.errors import VsslError

# PySlowFast (decoder.get_multiple_start_end_idx) redraws a clip up to 100 times until it satisfies
# the distance constraint; Feichtenhofer et al. 2021 §4.3 "timespan" study.
MAX_DISTANCE_RETRIES = 100


def _require_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise VsslError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def clip_span(clip_len: int, stride: int) -> int:
    """Number of raw frames covered by a clip: first to last sampled frame inclusive."""
    return (clip_len - 1) * stride + 1


def clip_indices(start: int, clip_len: int, stride: int, num_frames: int) -> list[int]:
    """Frame indices ``start, start + stride, ...``, clamped to the last frame of the video."""
    last_frame = num_frames - 1
    return [min(start + i * stride, last_frame) for i in range(clip_len)]


class _StridedClipSampler:
    """Shared argument checks and index arithmetic for clips of ``clip_len`` frames at ``stride``."""

    def __init__(self, clip_len: int, stride: int):
        self.clip_len = _require_positive_int("clip_len", clip_len)
        self.stride = _require_positive_int("stride", stride)
        self.span = clip_span(self.clip_len, self.stride)

    def max_start(self, num_frames) -> int:
        """Largest start frame whose clip fits in the video (0 for videos shorter than the span)."""
        num_frames = _require_positive_int("num_frames", num_frames)
        return max(num_frames - self.span, 0)

    def clips_at(self, starts: list[int], num_frames: int) -> list[list[int]]:
        return [clip_indices(int(start), self.clip_len, self.stride, num_frames) for start in starts]


class RandomClipSampler(_StridedClipSampler):
    """One clip whose start is uniform over every valid start ``[0, num_frames - span]``."""

    num_clips = 1

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        start = rng.integers(0, self.max_start(num_frames) + 1)
        return self.clips_at([start], num_frames)


class UniformClipSampler(_StridedClipSampler):
    """``num_clips`` deterministic clips with evenly spaced starts, for multi-view testing.

    One clip: the centred clip, start ``floor(max_start / 2)`` (as PySlowFast). Several clips: starts
    ``round(linspace(0, max_start, num_clips))`` with halves rounded up, so the first clip starts the
    video and the last one ends it. ``rng`` is ignored.
    """

    def __init__(self, clip_len: int, stride: int, num_clips: int):
        super().__init__(clip_len, stride)
        self.num_clips = _require_positive_int("num_clips", num_clips)

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator | None = None) -> list[list[int]]:
        max_start = self.max_start(num_frames)
        if self.num_clips == 1:
            starts = [max_start // 2]
        else:
            starts = np.floor(np.linspace(0, max_start, self.num_clips) + 0.5).astype(int).tolist()
        return self.clips_at(starts, num_frames)


class RhoClipSampler(_StridedClipSampler):
    """ρ clips at independent uniform random starts (Feichtenhofer et al. 2021, Feichtenhofer et al. 2021, §3).

    ρ = 1 returns a single clip; the method then makes two augmented views of it (the image-style
    baseline). With ``max_distance_s`` (the paper's t_max, Table 4), every pair of clip starts lies
    within ``floor(max_distance_s * fps)`` frames: the first start is uniform over the video, each later
    one is redrawn uniformly over the video up to 100 times (as PySlowFast) until it is within that
    distance of all starts drawn so far; if every try misses, it is drawn uniformly inside the allowed
    window instead, so the constraint always holds. ``fps_jitter`` j > 0 draws each clip's stride from
    ``stride`` × U(1 − j, 1 + j) (Feichtenhofer et al. 2021 Table 7 frame-rate jitter).
    """

    def __init__(self, clip_len: int, stride: int, rho: int, max_distance_s: float | None = None,
                 fps_jitter: float = 0.0):
        super().__init__(clip_len, stride)
        self.rho = _require_positive_int("rho", rho)
        self.num_clips = self.rho
        if isinstance(fps_jitter, bool) or not isinstance(fps_jitter, Real) or not 0 <= fps_jitter < 1:
            raise VsslError(f"fps_jitter must be a number in [0, 1), got {fps_jitter!r}")
        self.fps_jitter = fps_jitter
        if max_distance_s is not None and (
            isinstance(max_distance_s, bool) or not isinstance(max_distance_s, Real) or max_distance_s < 0
        ):
            raise VsslError(f"max_distance_s must be a number >= 0 or None, got {max_distance_s!r}")
        self.max_distance_s = max_distance_s

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        strides = self.jittered_strides(rng) if self.fps_jitter else [self.stride] * self.rho
        # starts leave room for the longest clip, so no clip runs past the end of a long enough video
        max_start = self.max_start(num_frames) if not self.fps_jitter else max(
            _require_positive_int("num_frames", num_frames) - clip_span(self.clip_len, max(strides)), 0)
        if self.max_distance_s is None:
            starts = rng.integers(0, max_start + 1, size=self.rho).tolist()
        else:
            starts = self._starts_within_distance(max_start, self._max_distance_frames(fps), rng)
        return [clip_indices(int(start), self.clip_len, stride, num_frames) for start, stride in zip(starts, strides)]

    def jittered_strides(self, rng: np.random.Generator) -> list[int]:
        """Frame-rate jitter (Feichtenhofer et al. 2021 Table 7: ±50 %): each clip's stride is ``stride`` × U(1 − j, 1 + j), rounded,
        at least 1."""
        factors = rng.uniform(1 - self.fps_jitter, 1 + self.fps_jitter, size=self.rho)
        return [max(1, int(round(self.stride * f))) for f in factors]

    def _max_distance_frames(self, fps: float) -> int:
        if isinstance(fps, bool) or not isinstance(fps, Real) or not fps > 0:
            raise VsslError(f"fps must be a number > 0 when max_distance_s is set, got {fps!r}")
        # The small tolerance keeps e.g. 0.7 s × 10 fps = 6.999... at 7 frames.
        return math.floor(self.max_distance_s * fps + 1e-9)

    def _starts_within_distance(self, max_start: int, max_distance: int, rng: np.random.Generator) -> list[int]:
        starts = [int(rng.integers(0, max_start + 1))]
        for _ in range(self.rho - 1):
            window_low = max(max(starts) - max_distance, 0)
            window_high = min(min(starts) + max_distance, max_start)
            starts.append(self._redraw_into_window(max_start, window_low, window_high, rng))
        return starts

    @staticmethod
    def _redraw_into_window(max_start: int, window_low: int, window_high: int, rng: np.random.Generator) -> int:
        for _ in range(MAX_DISTANCE_RETRIES):
            start = int(rng.integers(0, max_start + 1))
            if window_low <= start <= window_high:
                return start
        return int(rng.integers(window_low, window_high + 1))


class SnippetSampler(_StridedClipSampler):
    """``scale`` clips along an untrimmed video, one per position of BSN's rescaled temporal axis (Lin et al. 2018
    §4.1; Resnick et al. 2019, Tables 3–4): the video is cut into snippets of ``snippet_stride`` frames, and position t
    (its cell [t, t + 1) / scale of the video) reads the snippet holding the cell's centre frame, as nearest-snippet
    rescaling to ``scale``. A snippet's clip is centred on the snippet (clamped into the video). ``rng`` is ignored.
    """

    def __init__(self, clip_len: int, stride: int, snippet_stride: int, scale: int):
        super().__init__(clip_len, stride)
        self.snippet_stride = _require_positive_int("snippet_stride", snippet_stride)
        self.num_clips = _require_positive_int("scale", scale)

    def snippets(self, num_frames: int) -> np.ndarray:
        """The snippet index [scale] each position reads."""
        count = math.ceil(_require_positive_int("num_frames", num_frames) / self.snippet_stride)
        centres = (np.arange(self.num_clips) + 0.5) / self.num_clips * num_frames
        return np.minimum(np.floor(centres / self.snippet_stride).astype(int), count - 1)

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator | None = None) -> list[list[int]]:
        snippet_centres = self.snippets(num_frames) * self.snippet_stride + self.snippet_stride / 2
        starts = np.clip(np.floor(snippet_centres - self.span / 2), 0, self.max_start(num_frames)).astype(int)
        return self.clips_at(starts.tolist(), num_frames)

    def key(self) -> dict:
        """What identifies these views in the feature cache."""
        return {"snippets": {"stride": self.snippet_stride, "scale": self.num_clips}}
