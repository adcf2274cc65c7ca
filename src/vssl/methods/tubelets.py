"""Tubelets of tubelet-contrastive learning (Thoker 2023, Ch. 5; digest §2): a patch cut from one clip that moves
along a trajectory, optionally changing its scale, rotation and shear over time, pasted identically onto two clips.

Pure functions of a ``numpy.random.Generator``; lengths in pixels of the crop. The thesis's defaults are stated at
112² and scale with the crop size (``scale = crop / 112``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

REFERENCE_CROP = 112  # the thesis's crop size: pixel lengths below are at 112² and scale with the crop
KEYFRAMES = 3  # K: first, last and K − 2 random frames (Ch. 5)
DELTA = (40.0, 80.0)  # Δ at 112²: neighbouring keyframe centres are less than Δ apart (linear motion)
NONLINEAR_POINTS = 48  # N random points, smoothed and downsampled to T (non-linear motion)
NONLINEAR_SIGMA = 8.0  # σ of the 1-D Gaussian smoothing, in points
PATCH_SIZE = (16, 64)  # patch side at 112², uniform
SCALE = (0.5, 1.5)  # per-axis scale of the patch at a keyframe
ROTATION_DEG = (-90.0, 90.0)
SHEAR = (-1.5, 1.5)
SHAPES = ("rectangle", "ellipse", "triangle", "diamond")  # "random shapes" of the patches
MOTIONS = ("static", "linear", "nonlinear")
MAX_REDRAWS = 1000


def keyframe_times(rng: np.random.Generator, frames: int, count: int = KEYFRAMES) -> np.ndarray:
    """Sorted keyframe indices: 0, frames − 1 and ``count`` − 2 distinct random frames between them."""
    inner = rng.choice(np.arange(1, frames - 1), size=min(count - 2, max(frames - 2, 0)), replace=False)
    return np.sort(np.concatenate([[0], inner, [frames - 1]])).astype(int)


def interpolate(times: np.ndarray, values: np.ndarray, frames: int) -> np.ndarray:
    """Per-frame values [frames, D] linearly interpolated between keyframe ``values`` [K, D] at ``times`` [K]."""
    t = np.arange(frames)
    return np.stack([np.interp(t, times, values[:, d]) for d in range(values.shape[1])], axis=1)


def linear_trajectory(rng: np.random.Generator, frames: int, low: float, high: float, delta: float,
                      times: np.ndarray) -> np.ndarray:
    """Centres [frames, 2] (x, y): keyframe centres uniform in [low, high]², each less than ``delta`` from the one
    before (redrawn until it is), linearly interpolated in between."""
    points = [rng.uniform(low, high, size=2)]
    for _ in times[1:]:
        for _ in range(MAX_REDRAWS):
            candidate = points[-1] + rng.uniform(-delta, delta, size=2)
            if low <= candidate.min() and candidate.max() <= high and np.hypot(*(candidate - points[-1])) < delta:
                break
        else:  # the box around the last point is (almost) outside the area: stay put
            candidate = points[-1].copy()
        points.append(candidate)
    return interpolate(times, np.array(points), frames)


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """1-D Gaussian filter of ``values`` [N] (edges reflected, kernel truncated at 4σ), as scipy's gaussian_filter1d."""
    radius = int(4 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, radius, mode="symmetric")
    return np.convolve(padded, kernel, mode="valid")


def nonlinear_trajectory(rng: np.random.Generator, frames: int, low: float, high: float,
                         points: int = NONLINEAR_POINTS, sigma: float = NONLINEAR_SIGMA) -> np.ndarray:
    """Centres [frames, 2]: ``points`` uniform random points in [low, high]², x and y each smoothed by a 1-D Gaussian
    of ``sigma`` points, then ``frames`` of them taken evenly spaced. Smoothing averages points, so it stays inside."""
    raw = rng.uniform(low, high, size=(points, 2))
    smooth = np.stack([gaussian_smooth(raw[:, axis], sigma) for axis in (0, 1)], axis=1)
    return smooth[np.round(np.linspace(0, points - 1, frames)).astype(int)]


def affine_matrices(rng: np.random.Generator, times: np.ndarray, frames: int, transforms: tuple[str, ...]) -> np.ndarray:
    """Per-frame 2 × 2 maps [frames, 2, 2] of the patch: scale, rotation and/or shear drawn at every keyframe but the
    first (which keeps the identity, so the first frame is untouched) and interpolated linearly between keyframes."""
    count = len(times)
    params = np.zeros((count, 5))  # scale x, scale y, rotation (rad), shear x, shear y
    params[:, :2] = 1.0
    for k in range(1, count):
        if "scale" in transforms:
            params[k, :2] = rng.uniform(*SCALE, size=2)
        if "rotation" in transforms:
            params[k, 2] = math.radians(rng.uniform(*ROTATION_DEG))
        if "shear" in transforms:
            params[k, 3:] = rng.uniform(*SHEAR, size=2)
    per_frame = interpolate(times, params, frames)
    matrices = np.empty((frames, 2, 2))
    for t, (sx, sy, angle, hx, hy) in enumerate(per_frame):
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        matrices[t] = rotation @ np.array([[1.0, hx], [hy, 1.0]]) @ np.diag([sx, sy])
    return matrices


def shape_mask(shape: str, height: int, width: int) -> np.ndarray:
    """Bool [height, width]: which pixels of a patch belong to ``shape``."""
    v, u = np.meshgrid((np.arange(height) + 0.5) / height * 2 - 1, (np.arange(width) + 0.5) / width * 2 - 1,
                       indexing="ij")
    if shape == "rectangle":
        return np.ones((height, width), dtype=bool)
    if shape == "ellipse":
        return u * u + v * v <= 1.0
    if shape == "triangle":
        return np.abs(u) <= (v + 1) / 2
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    raise ValueError(f"unknown patch shape {shape!r} (valid: {', '.join(SHAPES)})")


@dataclass
class Tubelet:
    """A patch [C, h, w] with its shape mask [h, w], per-frame centres [T, 2] (x, y) and 2 × 2 maps [T, 2, 2]."""

    patch: torch.Tensor
    mask: np.ndarray
    centres: np.ndarray
    matrices: np.ndarray


def draw_tubelet(rng: np.random.Generator, source: torch.Tensor, motion: str = "nonlinear",
                 transforms: tuple[str, ...] = ("rotation",)) -> Tubelet:
    """A tubelet whose patch is cut from frame 0 of ``source`` [C, T, H, W] (Thoker 2023 Ch. 5 defaults: non-linear
    motion with rotation; sizes scaled from 112² to the crop)."""
    if motion not in MOTIONS:
        raise ValueError(f"tubelet motion {motion!r}: expected one of {', '.join(MOTIONS)}")
    _, frames, height, width = source.shape
    scale = min(height, width) / REFERENCE_CROP
    side = lambda: max(2, int(round(rng.uniform(*PATCH_SIZE) * scale)))  # noqa: E731
    h, w = min(side(), height), min(side(), width)
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    patch = source[:, 0, top:top + h, left:left + w].clone()
    mask = shape_mask(SHAPES[int(rng.integers(len(SHAPES)))], h, w)
    low, high = max(h, w) / 2, min(height, width) - max(h, w) / 2  # centres keep the unrotated patch in the frame
    times = keyframe_times(rng, frames)
    if motion == "static":
        centres = np.repeat(rng.uniform(low, high, size=(1, 2)), frames, axis=0)
    elif motion == "linear":
        centres = linear_trajectory(rng, frames, low, high, rng.uniform(*DELTA) * scale, times)
    else:
        centres = nonlinear_trajectory(rng, frames, low, high)
    return Tubelet(patch, mask, centres, affine_matrices(rng, times, frames, transforms))


def paste(frame: torch.Tensor, patch: torch.Tensor, mask: np.ndarray, centre, matrix: np.ndarray) -> None:
    """Paste ``patch`` [C, h, w] (its ``mask`` pixels) into ``frame`` [C, H, W] in place, mapped by ``matrix`` about
    its centre and centred at ``centre`` (x, y): every frame pixel whose inverse-mapped position falls on a masked
    patch pixel (nearest neighbour) takes that pixel's value."""
    _, h, w = patch.shape
    _, height, width = frame.shape
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [-w / 2, h / 2], [w / 2, h / 2]]) @ matrix.T
    x0 = max(int(math.floor(centre[0] + corners[:, 0].min())), 0)
    x1 = min(int(math.ceil(centre[0] + corners[:, 0].max())) + 1, width)
    y0 = max(int(math.floor(centre[1] + corners[:, 1].min())), 0)
    y1 = min(int(math.ceil(centre[1] + corners[:, 1].max())) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.meshgrid(np.arange(y0, y1) + 0.5, np.arange(x0, x1) + 0.5, indexing="ij")
    offsets = np.stack([xs - centre[0], ys - centre[1]], axis=-1) @ np.linalg.inv(matrix).T
    px, py = np.floor(offsets[..., 0] + w / 2).astype(int), np.floor(offsets[..., 1] + h / 2).astype(int)
    inside = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    inside[inside] = mask[py[inside], px[inside]]
    rows, cols = np.nonzero(inside)
    frame[:, y0 + rows, x0 + cols] = patch[:, py[rows, cols], px[rows, cols]]


def paste_tubelet(clip: torch.Tensor, tubelet: Tubelet) -> None:
    """Paste a tubelet into every frame of ``clip`` [C, T, H, W] in place."""
    for t in range(clip.shape[1]):
        paste(clip[:, t], tubelet.patch, tubelet.mask, tubelet.centres[t], tubelet.matrices[t])
