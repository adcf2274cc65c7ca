"""Spatio-temporal statistics of a clip (Wang 2020, Wang, Ch. 2): optical flow, motion boundaries, the three spatial
partitioning patterns, and the 14 motion and 13 appearance labels that the statistics pretext task regresses.

Everything is a pure function of the clip's uint8 RGB frames [T, H, W, 3], so a clip's labels are reproducible from
its video and frame indices (``vssl.methods.label_cache`` decodes the frames and calls :func:`clip_statistics`).

Conventions (chosen here where the thesis leaves them open)
- **Label resolution.** Frames are first shrunk (area interpolation) so the short side is at most 128 px, the
  frame size Wang 2020 §3.4.2 trains on (128×171); smaller frames are used as they are. Labels describe the
  *whole* frame; regions are defined relative to the frame size, so they stay valid for any resize of the frame.
- **Optical flow.** OpenCV's Farnebäck (Farnebäck 2003, "Two-frame motion estimation based on polynomial
  expansion") between consecutive frames of the clip, on BT.601 luma, with OpenCV's documented example settings
  (pyramid scale 0.5, 3 levels, window 15, 3 iterations, polynomial neighbourhood 5, σ 1.2). The thesis used
  Brox et al. 2004 [85] and its authors' code TV-L1; the spec accepts any solid dense flow.
- **Directions.** Arrays have x to the right and y downwards; every angle is measured counter-clockwise *as seen
  on screen* from the +x axis, θ = atan2(−∂y, ∂x), as in the thesis Fig. 2.2. The 8 orientation bins of 45° are
  centred on the multiples of 45° (bin k holds [45k° − 22.5°, 45k° + 22.5°), bin 0 = rightwards, 2 = upwards), the
  bin centres of the authors' code; bins starting at 0° would split every axis-aligned boundary between two bins.
- **Motion boundaries** (Eq. 2.1): m_u = (∂u/∂x, ∂u/∂y) and m_v likewise, by central differences (one-sided at
  the frame border). Summed over the N−1 flows (Eq. 2.2) they give M_u, M_v, whose magnitude and angle give the
  labels. [!] The orientation label is the direction of M_u (the gradient of u), as Algorithm 1 and the authors'
  code compute it; Fig. 2.2 illustrates it as the direction of the motion itself, which it is not in general
  (e.g. the trailing edge of a region moving right has M_u at 0°, its leading edge at 180°).
- **Patterns** (Fig. 2.4), region indices 0-based:
  1. a 4×4 grid, row-major (pixel (x, y) is in block 4·⌊4y/H⌋ + ⌊4x/W⌋);
  2. four concentric rectangular rings of equal width, 0 = the centre rectangle (a quarter of the frame's width and
     height) to 3 = the outer ring: a pixel's ring is ⌊4·max(|x̃|, |ỹ|)⌋ for centred coordinates x̃, ỹ in (−1, 1).
     The thesis shows this "4 areas with the same gap" only in a figure; these are the rings of its authors' code
     (centre 28², then 56², 84², 112² squares on a 112² crop: 14 px gaps);
  3. eight triangles cut by the two centre lines and the two corner-to-corner diagonals, numbered 0–7
     counter-clockwise from the one right of the centre just above the horizontal centre line (octant k spans
     angles [45k°, 45k° + 45°) of (x̃, ỹ) seen from the centre; a pixel centre exactly on a diagonal belongs to the
     triangle touching the top or bottom edge, so the partition of an even-sized frame is mirror-symmetric).
- **Motion labels** (14): for each pattern (p_u, o_u, p_v, o_v) — the region with the largest *average* magnitude
  of M_u and the magnitude-weighted dominant orientation bin of M_u inside it, then the same for M_v — followed by
  I_u, I_v: the index (0 … N−2) of the flow whose motion boundary magnitude summed over the frame is largest.
- **Appearance labels** (13): for each pattern (p_l, c_l, p_s, c_s) — the region of largest colour diversity
  (smallest IoU) and its dominant colour, the region of smallest diversity (largest IoU; [!] Algorithm 2 writes
  min twice) and its dominant colour — followed by C, the dominant colour of the whole clip. The IoU of a region is
  Σ_bins min_t h_t / Σ_bins max_t h_t over the frames' histograms h_t with 256 bins (one per value, as the authors'
  code), computed per R, G, B channel and averaged (Eq. 2.3). Colours fall into 8 bins, two per channel split at
  128: bin = 4·[R ≥ 128] + 2·[G ≥ 128] + [B ≥ 128] (0 black, 1 blue, 2 green, 3 cyan, 4 red, 5 magenta, 6 yellow,
  7 white); the dominant colour is the bin holding most pixels over all frames.
- Ties (e.g. a static clip) go to the lowest index.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from vssl.core.errors import VsslError
from vssl.data import optical_flow
from vssl.data.optical_flow import dense_flow

LABEL_SHORT_SIDE = 128  # Wang 2020 §3.4.2: frames resized to 128×171 before the 112² crop

FARNEBACK = optical_flow.FARNEBACK  # OpenCV's documented example values; the label cache records them

PATTERNS = (1, 2, 3)
REGION_COUNTS = {1: 16, 2: 4, 3: 8}  # Wang 2020 Fig. 2.4
ORIENTATION_BINS = 8  # Wang 2020 §2.2.2: 360° in 8 bins of 45°
COLOUR_BINS = 8  # Wang 2020 §2.2.3: RGB cube in 8 bins, 2 per channel
HISTOGRAM_BINS = 256  # per channel, for the colour-diversity IoU (authors' code: cv2.calcHist with 256 bins)
MOTION_LABELS = 3 * 4 + 2  # Wang 2020 §2.2.4: 14 motion labels
APPEARANCE_LABELS = 3 * 4 + 1  # Wang 2020 §2.2.4: 13 appearance labels


def _check_frames(frames: np.ndarray, min_frames: int) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        raise VsslError(f"statistics labels need uint8 RGB frames [T, H, W, 3], got {type(frames).__name__} {shape}")
    if frames.shape[0] < min_frames:
        raise VsslError(f"statistics labels need at least {min_frames} frames, got {frames.shape[0]}")


def label_frames(frames: np.ndarray) -> np.ndarray:
    """The frames the labels are computed on: shrunk so the short side is at most ``LABEL_SHORT_SIDE``."""
    _check_frames(frames, 1)
    height, width = frames.shape[1:3]
    scale = LABEL_SHORT_SIDE / min(height, width)
    if scale >= 1:
        return frames
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # cv2 takes (width, height)
    return np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in frames])


# --- motion ----------------------------------------------------------------------------------------------------


def mirror_flow(flow: np.ndarray) -> np.ndarray:
    """The flow of the left-right mirrored clip, taken as the mirror image of the flow with u negated."""
    mirrored = flow[:, :, ::-1].copy()
    mirrored[..., 0] *= -1
    return mirrored


def spatial_gradient(field: np.ndarray) -> np.ndarray:
    """(∂/∂x, ∂/∂y) of fields [..., H, W] by central differences (one-sided at the border): [..., H, W, 2]."""
    d_dy, d_dx = np.gradient(field, axis=(-2, -1))
    return np.stack([d_dx, d_dy], axis=-1)


def polar(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and on-screen counter-clockwise angle in degrees [0, 360) of vectors [..., 2] = (x, y-down)."""
    magnitude = np.hypot(vectors[..., 0], vectors[..., 1])
    angle = np.degrees(np.arctan2(-vectors[..., 1], vectors[..., 0])) % 360.0
    return magnitude, angle


@dataclass
class MotionSummary:
    """The summed motion boundaries M_u, M_v of a clip (Eq. 2.2) in polar form, and each flow's boundary energy."""

    magnitude_u: np.ndarray  # [H, W]
    angle_u: np.ndarray  # [H, W], degrees
    magnitude_v: np.ndarray
    angle_v: np.ndarray
    energy_u: np.ndarray  # [T−1]: Σ over the frame of |m_u| for each flow
    energy_v: np.ndarray


def summarize_motion(flow: np.ndarray) -> MotionSummary:
    """Motion boundaries of every flow (Eq. 2.1), summed over the clip (Eq. 2.2)."""
    if flow.ndim != 4 or flow.shape[-1] != 2 or flow.shape[0] < 1:
        raise VsslError(f"flow must be [T-1, H, W, 2] with at least one flow, got shape {flow.shape}")
    boundaries_u = spatial_gradient(flow[..., 0])  # [T−1, H, W, 2]
    boundaries_v = spatial_gradient(flow[..., 1])
    magnitude_u, angle_u = polar(boundaries_u.sum(axis=0))
    magnitude_v, angle_v = polar(boundaries_v.sum(axis=0))
    energy_u = np.hypot(boundaries_u[..., 0], boundaries_u[..., 1]).sum(axis=(1, 2))
    energy_v = np.hypot(boundaries_v[..., 0], boundaries_v[..., 1]).sum(axis=(1, 2))
    return MotionSummary(magnitude_u, angle_u, magnitude_v, angle_v, energy_u, energy_v)


# --- partitioning patterns -------------------------------------------------------------------------------------


def _centred_coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer X = 2x + 1 − W (rightwards) and Y = H − 2y − 1 (upwards) of every pixel centre, [H, W] each; the
    centred coordinates in (−1, 1) are x̃ = X / W and ỹ = Y / H, kept as integers so comparisons are exact."""
    columns = 2 * np.arange(width) + 1 - width
    rows = height - 2 * np.arange(height) - 1
    return np.broadcast_to(columns, (height, width)), np.broadcast_to(rows[:, None], (height, width))


@functools.lru_cache(maxsize=64)
def pattern_regions(pattern: int, height: int, width: int) -> np.ndarray:
    """Region index of every pixel [H, W] for partitioning pattern 1, 2 or 3 (see the module docstring); cached,
    so the array is read-only."""
    regions = _pattern_regions(pattern, height, width)
    regions.flags.writeable = False
    return regions


def _pattern_regions(pattern: int, height: int, width: int) -> np.ndarray:
    if pattern not in PATTERNS:
        raise VsslError(f"partitioning pattern must be one of {PATTERNS}, got {pattern!r}")
    if pattern == 1:
        rows = (4 * np.arange(height)) // height
        columns = (4 * np.arange(width)) // width
        return 4 * rows[:, None] + columns[None, :]
    x, y = _centred_coordinates(height, width)
    if pattern == 2:
        return np.maximum((4 * np.abs(x)) // width, (4 * np.abs(y)) // height)
    # pattern 3: quadrant counter-clockwise from (x̃ > 0, ỹ ≥ 0), then which side of the diagonal |x̃| = |ỹ|
    quadrant = np.select([(x > 0) & (y >= 0), (x <= 0) & (y > 0), (x < 0) & (y <= 0), (x >= 0) & (y < 0)],
                         [0, 1, 2, 3], default=0)  # default: the centre pixel of an odd×odd frame
    steep = np.abs(y) * width >= np.abs(x) * height  # |ỹ| ≥ |x̃|: the triangles touching the top or bottom edge
    second_half = np.where(quadrant % 2 == 0, steep, ~steep)
    return 2 * quadrant + second_half.astype(int)


def region_means(values: np.ndarray, regions: np.ndarray, count: int) -> np.ndarray:
    """Average of ``values`` [H, W] inside each region."""
    sums = np.bincount(regions.ravel(), weights=values.ravel(), minlength=count)
    return sums / np.bincount(regions.ravel(), minlength=count)


def orientation_bins(angle: np.ndarray) -> np.ndarray:
    """Bin 0–7 of angles in degrees; bin k is centred on 45k°."""
    width = 360.0 / ORIENTATION_BINS
    return ((angle + width / 2) // width).astype(int) % ORIENTATION_BINS


def dominant_orientation(magnitude: np.ndarray, angle: np.ndarray, mask: np.ndarray) -> int:
    """The 45° bin with the largest summed magnitude among the pixels of ``mask`` (Wang 2020 §2.2.2)."""
    bins = orientation_bins(angle[mask])
    return int(np.argmax(np.bincount(bins, weights=magnitude[mask], minlength=ORIENTATION_BINS)))


def motion_labels(summary: MotionSummary) -> np.ndarray:
    """The 14 motion labels: (p_u, o_u, p_v, o_v) for patterns 1, 2, 3, then I_u, I_v (Algorithm 1)."""
    height, width = summary.magnitude_u.shape
    labels = []
    for pattern in PATTERNS:
        regions = pattern_regions(pattern, height, width)
        for magnitude, angle in ((summary.magnitude_u, summary.angle_u), (summary.magnitude_v, summary.angle_v)):
            largest = int(np.argmax(region_means(magnitude, regions, REGION_COUNTS[pattern])))
            labels += [largest, dominant_orientation(magnitude, angle, regions == largest)]
    labels += [int(np.argmax(summary.energy_u)), int(np.argmax(summary.energy_v))]
    return np.array(labels, dtype=np.int64)


# --- appearance ------------------------------------------------------------------------------------------------


def colour_codes(frames: np.ndarray) -> np.ndarray:
    """Colour bin of every pixel [..., H, W]: 4·[R ≥ 128] + 2·[G ≥ 128] + [B ≥ 128]."""
    high = frames >= 128
    return 4 * high[..., 0] + 2 * high[..., 1] + high[..., 2].astype(np.int64)


def dominant_colours(codes: np.ndarray, regions: np.ndarray, count: int) -> np.ndarray:
    """Most frequent colour bin over all frames in each region: codes [T, H, W] → [count]."""
    keys = (regions[None] * COLOUR_BINS + codes).ravel()
    histogram = np.bincount(keys, minlength=count * COLOUR_BINS).reshape(count, COLOUR_BINS)
    return histogram.argmax(axis=1)


def colour_iou(frames: np.ndarray, regions: np.ndarray, count: int) -> np.ndarray:
    """Eq. 2.3 per region: Σ min_t h_t / Σ max_t h_t of per-frame 256-bin histograms, averaged over R, G, B."""
    num_frames = frames.shape[0]
    frame_region = (np.arange(num_frames, dtype=np.int32)[:, None, None] * count
                    + regions[None].astype(np.int32)) * HISTOGRAM_BINS  # [T, H, W]: first histogram bin of each pixel
    scores = np.zeros(count)
    for channel in range(3):
        keys = (frame_region + frames[..., channel]).ravel()
        histograms = np.bincount(keys, minlength=num_frames * count * HISTOGRAM_BINS)
        histograms = histograms.reshape(num_frames, count, HISTOGRAM_BINS)
        scores += histograms.min(axis=0).sum(axis=1) / histograms.max(axis=0).sum(axis=1)
    return scores / 3


def appearance_labels(frames: np.ndarray) -> np.ndarray:
    """The 13 appearance labels: (p_l, c_l, p_s, c_s) for patterns 1, 2, 3, then C (Algorithm 2)."""
    _check_frames(frames, 1)
    height, width = frames.shape[1:3]
    codes = colour_codes(frames)
    labels = []
    for pattern in PATTERNS:
        regions = pattern_regions(pattern, height, width)
        count = REGION_COUNTS[pattern]
        iou = colour_iou(frames, regions, count)
        colours = dominant_colours(codes, regions, count)
        most_diverse, least_diverse = int(np.argmin(iou)), int(np.argmax(iou))
        labels += [most_diverse, int(colours[most_diverse]), least_diverse, int(colours[least_diverse])]
    labels.append(int(np.argmax(np.bincount(codes.ravel(), minlength=COLOUR_BINS))))
    return np.array(labels, dtype=np.int64)


# --- one clip --------------------------------------------------------------------------------------------------


@dataclass
class ClipStatistics:
    """A clip's labels and its summed motion boundaries (for the curriculum score)."""

    motion: np.ndarray  # [14]
    appearance: np.ndarray  # [13]
    summary: MotionSummary


def clip_statistics(frames: np.ndarray) -> tuple[ClipStatistics, ClipStatistics]:
    """Labels of the clip and of its left-right mirror image, both from one flow computation."""
    frames = label_frames(frames)
    _check_frames(frames, 2)
    flow = dense_flow(frames)
    results = []
    for clip, clip_flow in ((frames, flow), (frames[:, :, ::-1], mirror_flow(flow))):
        summary = summarize_motion(clip_flow)
        results.append(ClipStatistics(motion_labels(summary), appearance_labels(np.ascontiguousarray(clip)), summary))
    return results[0], results[1]
