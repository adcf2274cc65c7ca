"""NTU RGB+D `.skeleton` files (Shahroudy et al. 2016, the official text format of Kinect v2 bodies) and the
skeleton augmentations of Thoker 2023 (Ch. 3): 3-D shear, joint jitter and temporal crop-resize.

File layout: the frame count; per frame the body count; per body one line of 10 values (body id, clipped edges,
hand confidences and states, restricted, lean x/y, tracking state), the joint count (25), and per joint a line of 12
values (x y z, depth x y, colour x y, orientation w x y z, tracking state). :func:`read_skeleton` keeps the camera
coordinates x, y, z of up to ``max_bodies`` bodies: [T, bodies, joints, 3], zero where a body is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vssl.core.errors import VsslError

JOINTS = 25
BODY_VALUES, JOINT_VALUES = 10, 12
JITTERED_JOINTS = 15  # Thoker 2023 Ch. 3: a random subset of 15 joints
SHEAR = 1.0  # off-diagonal terms of the 3-D shear drawn from U[−1, 1]
CROP_RATIO = (0.1, 1.0)  # temporal crop-resize keeps a segment of this fraction of the frames


def read_skeleton(path: str | Path, max_bodies: int = 2) -> np.ndarray:
    """Joint positions [frames, max_bodies, 25, 3] (float32) of a `.skeleton` file; a malformed file is a one-line
    error naming it and the line."""
    path = Path(path)
    try:
        lines = path.read_text().split("\n")
    except FileNotFoundError:
        raise VsslError(f"{path}: file not found") from None
    cursor = 0

    def numbers(count: int) -> list[float]:
        nonlocal cursor
        if cursor >= len(lines):
            raise VsslError(f"{path}: ends early at line {cursor + 1}")
        fields = lines[cursor].split()
        if len(fields) != count:
            raise VsslError(f"{path}:{cursor + 1}: expected {count} value(s), got {len(fields)}")
        cursor += 1
        try:
            return [float(v) for v in fields]
        except ValueError:
            raise VsslError(f"{path}:{cursor}: not numbers: {lines[cursor - 1].strip()!r}") from None

    frames = int(numbers(1)[0])
    joints = np.zeros((frames, max_bodies, JOINTS, 3), dtype=np.float32)
    for t in range(frames):
        for body in range(int(numbers(1)[0])):
            numbers(BODY_VALUES)
            count = int(numbers(1)[0])
            for j in range(count):
                values = numbers(JOINT_VALUES)
                if body < max_bodies and j < JOINTS:
                    joints[t, body, j] = values[:3]
    return joints


def shear(rng: np.random.Generator, sequence: np.ndarray, amount: float = SHEAR) -> np.ndarray:
    """[T, J, 3] → the same joints times a 3 × 3 matrix with unit diagonal and off-diagonals U[−amount, amount]."""
    matrix = np.eye(3) + rng.uniform(-amount, amount, size=(3, 3)) * (1 - np.eye(3))
    return (sequence @ matrix.T).astype(sequence.dtype)


def joint_jitter(rng: np.random.Generator, sequence: np.ndarray, count: int = JITTERED_JOINTS) -> np.ndarray:
    """[T, J, 3] with a random subset of ``count`` joints (the same in every frame) multiplied by one random 3 × 3
    matrix of U[−1, 1] entries; the other joints unchanged."""
    chosen = rng.choice(sequence.shape[1], size=min(count, sequence.shape[1]), replace=False)
    matrix = rng.uniform(-1.0, 1.0, size=(3, 3))
    jittered = sequence.copy()
    jittered[:, chosen] = sequence[:, chosen] @ matrix.T
    return jittered


def temporal_crop_resize(rng: np.random.Generator, sequence: np.ndarray, length: int,
                         ratio=CROP_RATIO) -> np.ndarray:
    """A segment of a fraction U[ratio] of the T frames, at a random start, linearly resampled to ``length``."""
    frames = sequence.shape[0]
    kept = max(2, int(round(rng.uniform(*ratio) * frames)))
    kept = min(kept, frames)
    start = int(rng.integers(0, frames - kept + 1))
    positions = np.linspace(start, start + kept - 1, length)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, frames - 1)
    weight = (positions - low)[:, None, None]
    return ((1 - weight) * sequence[low] + weight * sequence[high]).astype(sequence.dtype)
