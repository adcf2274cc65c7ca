"""Clip samplers of the pretext tasks (pace / playback-rate clips, VCOP's shuffled clip tuples) and the exact inverses
that recover each clip's pretext label from the frame indices the loader hands the method.

The samplers follow ``vssl.data.sampling``: ``sampler(num_frames, fps, rng) -> clips × frame indices``, all randomness
from the passed generator, so the loader's per-item seed reproduces clips and labels. No label travels through the
loader: the batch's ``frames`` [B, K, T] already determine it, and :func:`pace_label` / :func:`tuple_order` read it
back. That is exact because every sampler here only draws clips whose label its inverse can tell apart (see each
docstring for the short-video cases).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from numbers import Integral, Real

import numpy as np

from vssl.core.errors import VsslError
from vssl.data.sampling import clip_indices, clip_span

# Paces are read as fractions with a denominator of at most this, so a YAML 0.3333333333 is exactly 1/3.
MAX_PACE_DENOMINATOR = 1000


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise VsslError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def as_fraction(pace) -> Fraction:
    """A pace as an exact fraction (0.5 → 1/2, 0.3333333333 → 1/3); it must be a number > 0."""
    if isinstance(pace, bool) or not isinstance(pace, Real) or not pace > 0:
        raise VsslError(f"a pace must be a number > 0, got {pace!r}")
    return Fraction(pace).limit_denominator(MAX_PACE_DENOMINATOR)


def pace_indices(start: int, clip_len: int, pace) -> list[int]:
    """Frame indices of a clip played at ``pace``: ``start + ⌊i·pace⌋`` for i < clip_len.

    Pace 1 takes consecutive frames, pace p > 1 every p-th frame, and a slow pace p < 1 shows each frame 1/p times:
    Wang 2020 §4.2.2 fills the blank positions of a slow clip with the preceding frame (pace 1/2, clip_len 4, start 10
    → [10, 10, 11, 11]).
    """
    step = as_fraction(pace)
    return [start + math.floor(i * step) for i in range(clip_len)]


def pace_span(clip_len: int, pace) -> int:
    """Raw frames covered by a clip at ``pace``, first to last inclusive."""
    return math.floor((clip_len - 1) * as_fraction(pace)) + 1


def check_paces(paces: Sequence, clip_len: int, name: str = "paces") -> tuple[float, ...]:
    """``paces`` as a tuple, checked to be distinguishable: distinct frame patterns for clips of ``clip_len``."""
    if not paces:
        raise VsslError(f"{name} must list at least one pace, got {paces!r}")
    patterns: dict[tuple[int, ...], object] = {}
    for pace in paces:
        pattern = tuple(pace_indices(0, clip_len, pace))
        if pattern in patterns:
            raise VsslError(f"{name}: paces {patterns[pattern]!r} and {pace!r} give the same frames for clips of "
                            f"{clip_len} frames, so they cannot be told apart")
        patterns[pattern] = pace
    return tuple(paces)


def slowest_pace_index(paces: Sequence) -> int:
    return min(range(len(paces)), key=lambda k: as_fraction(paces[k]))


class PaceClipSampler:
    """``num_clips`` clips of ``clip_len`` frames, each played at a pace drawn from ``paces`` (Wang 2020 §4.2.2).

    Each clip's pace is drawn uniformly among the paces whose clip fits in the video (span ≤ num_frames); with
    several clips they are drawn without replacement while enough paces fit, since the same-context contrast
    (§4.2.3) pairs clips of one video "by different paces". The start is then uniform over every start that keeps the
    clip inside the video. A video too short for every pace gets the slowest one, clamped to its last frame (the
    last frame repeats). Under these rules :func:`pace_label` recovers every clip's pace index exactly.
    """

    def __init__(self, clip_len: int, paces: Sequence, num_clips: int = 1):
        self.clip_len = _positive_int("clip_len", clip_len)
        self.paces = check_paces(paces, self.clip_len)
        self.num_clips = _positive_int("num_clips", num_clips)
        self.spans = [pace_span(self.clip_len, pace) for pace in self.paces]

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        num_frames = _positive_int("num_frames", num_frames)
        fitting = [k for k, span in enumerate(self.spans) if span <= num_frames] or [slowest_pace_index(self.paces)]
        clips = []
        for k in self._draw_paces(fitting, rng):
            start = int(rng.integers(0, max(num_frames - self.spans[k], 0) + 1))
            clips.append([min(i, num_frames - 1) for i in pace_indices(start, self.clip_len, self.paces[k])])
        return clips

    def _draw_paces(self, fitting: list[int], rng: np.random.Generator) -> list[int]:
        if len(fitting) >= self.num_clips:
            return [fitting[k] for k in rng.choice(len(fitting), size=self.num_clips, replace=False)]
        return [fitting[k] for k in rng.integers(0, len(fitting), size=self.num_clips)]


def pace_label(indices: Sequence[int], paces: Sequence) -> int:
    """Index in ``paces`` of the pace that produced a :class:`PaceClipSampler` clip with these frame indices.

    A clip that fits its video matches exactly one pace's pattern (``check_paces`` rules out look-alikes); a clip
    matching none was clamped, which the sampler only does with the slowest pace. A clamped slowest-pace clip can
    never match a faster pace: its indices are ≤ the slow pattern, which is ≤ every faster pattern.
    """
    indices = [int(i) for i in indices]
    for k, pace in enumerate(paces):
        if pace_indices(indices[0], len(indices), pace) == indices:
            return k
    return slowest_pace_index(paces)


class ClipTupleSampler:
    """VCOP (Xu et al. 2019 §3.1): ``tuple_len`` clips of ``clip_len`` frames at ``stride``, consecutive clips ``gap``
    frames apart, returned in a random order.

    The tuple's start is uniform over the video; the order is a uniform random permutation drawn after it
    (position i holds the clip that came ``order[i]``-th in time, as VCOP's ``tuple_order``). A video shorter than
    the tuple squeezes it: clip k starts at ⌊k·num_frames / tuple_len⌋ (clips overlap, frames past the end clamp),
    which keeps the starts distinct and so the order readable by :func:`tuple_order`; a video with fewer frames
    than clips cannot hold distinct clips and keeps them in temporal order.
    """

    def __init__(self, clip_len: int, stride: int, gap: int, tuple_len: int):
        self.clip_len = _positive_int("clip_len", clip_len)
        self.stride = _positive_int("stride", stride)
        if isinstance(gap, bool) or not isinstance(gap, Integral) or gap < 0:
            raise VsslError(f"gap must be an integer >= 0, got {gap!r}")
        self.gap = int(gap)
        self.tuple_len = _positive_int("tuple_len", tuple_len)
        self.num_clips = self.tuple_len
        self.hop = clip_span(self.clip_len, self.stride) + self.gap
        self.span = (self.tuple_len - 1) * self.hop + clip_span(self.clip_len, self.stride)

    def starts(self, num_frames: int, rng: np.random.Generator) -> list[int]:
        """Start frame of every clip, in temporal order."""
        if num_frames >= self.span:
            first = int(rng.integers(0, num_frames - self.span + 1))
            return [first + k * self.hop for k in range(self.tuple_len)]
        return [k * num_frames // self.tuple_len for k in range(self.tuple_len)]

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        num_frames = _positive_int("num_frames", num_frames)
        starts = self.starts(num_frames, rng)
        order = rng.permutation(self.tuple_len) if num_frames >= self.tuple_len else np.arange(self.tuple_len)
        return [clip_indices(starts[k], self.clip_len, self.stride, num_frames) for k in order]


def tuple_order(first_frames: Sequence[int]) -> tuple[int, ...]:
    """Temporal rank of the clip at every position, from the clips' first frame indices (ties keep their order)."""
    ranked = sorted(range(len(first_frames)), key=lambda position: first_frames[position])
    order = [0] * len(first_frames)
    for rank, position in enumerate(ranked):
        order[position] = rank
    return tuple(order)
