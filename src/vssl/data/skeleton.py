"""Skeleton sequences from a manifest (``.npy`` keypoints, NTU ``.skeleton`` files): the augmented views of Thoker
2023 Ch. 3 for pre-training and the centre crop of its downstream tasks, as [3, T, J, M] tensors (coordinates,
frames, joints, bodies: the input of :mod:`vssl.models.skeleton`).

A ``.npy`` file holds float joint positions [T, J, 3] (one body) or [T, M, J, 3], read without unpickling; a
``.skeleton`` file is read by :func:`read_skeleton` as two bodies (Thoker 2023 §3.4.2: every sequence as two people,
the second all zeros for one actor). Frames without any joint at either end are dropped. Segment times are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vssl.core.errors import VsslError
from vssl.data.formats.ntu_skeleton import (CROP_RATIO, JITTERED_JOINTS, SHEAR, joint_jitter, read_skeleton, shear,
                                            temporal_crop_resize)
from vssl.data.loader import LabelledSamples
from vssl.data.manifest import Sample

SKELETON_SUFFIXES = (".npy", ".skeleton")
NTU_BODIES = 2  # Thoker 2023 §3.4.2
EVAL_CROP = 0.95  # downstream tasks see a centre crop (Thoker 2023 App. A.1) of 95 % of the frames ([code])
SHEAR_P = 0.5  # each view's spatial augmentation is a shear or a joint jitter, at random (Thoker 2023 §3.3.1.3)


def read_sequence(path: str | Path) -> np.ndarray:
    """Joint positions [T, M, J, 3] (float32) of a ``.npy`` or ``.skeleton`` file, empty frames at either end
    dropped; a bad file is a one-line VsslError naming it."""
    path = Path(path)
    if path.suffix == ".skeleton":
        sequence = read_skeleton(path, max_bodies=NTU_BODIES)
    elif path.suffix == ".npy":
        try:
            sequence = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise VsslError(f"{path}: not a readable .npy array ({str(e).splitlines()[0]})") from None
        if sequence.ndim == 3:
            sequence = sequence[:, None]
        if sequence.ndim != 4 or sequence.shape[-1] != 3 or not np.issubdtype(sequence.dtype, np.number):
            raise VsslError(f"{path}: expected joint positions [T, J, 3] or [T, M, J, 3], got {sequence.dtype} "
                            f"{list(sequence.shape)}")
        sequence = sequence.astype(np.float32)
    else:
        raise VsslError(f"{path}: a skeleton file must end in {' or '.join(SKELETON_SUFFIXES)}")
    present = np.flatnonzero(np.abs(sequence).reshape(len(sequence), -1).sum(axis=1) > 0)
    if present.size == 0:
        raise VsslError(f"{path}: no joints in any frame")
    return sequence[present[0]:present[-1] + 1]


def resample(sequence: np.ndarray, start: float, end: float, length: int) -> np.ndarray:
    """Frames [start, end] (inclusive, fractional) of [T, ...] linearly resampled to ``length`` frames."""
    positions = np.linspace(start, end, length)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, len(sequence) - 1)
    weight = (positions - low).reshape(-1, *[1] * (sequence.ndim - 1))
    return ((1 - weight) * sequence[low] + weight * sequence[high]).astype(np.float32)


def centre_crop(sequence: np.ndarray, length: int, ratio: float = EVAL_CROP) -> np.ndarray:
    """The middle ``ratio`` of the frames, resampled to ``length`` (the downstream view)."""
    frames = len(sequence)
    margin = int((1 - ratio) * frames / 2)
    return resample(sequence, margin, frames - margin - 1, length)


@dataclass(frozen=True)
class SkeletonAugment:
    """Thoker 2023 Eq. 3.4: temporal crop-resize (a fraction U[crop_ratio] of the frames, resampled to ``length``),
    then at random a 3-D shear (off-diagonals U[−shear, shear]) or a joint jitter (``jitter_joints`` joints times one
    random 3 × 3 matrix), the same for every body."""

    length: int
    crop_ratio: tuple[float, float] = CROP_RATIO
    jitter_joints: int = JITTERED_JOINTS
    shear: float = SHEAR

    def __call__(self, rng: np.random.Generator, sequence: np.ndarray) -> np.ndarray:
        frames, bodies, joints, _ = sequence.shape
        flat = sequence.reshape(frames, bodies * joints, 3)
        view = temporal_crop_resize(rng, flat, self.length, self.crop_ratio).reshape(self.length, bodies, joints, 3)
        if rng.random() < SHEAR_P:
            return shear(rng, view, self.shear)
        return joint_jitter(rng, view.reshape(-1, joints, 3), self.jitter_joints).reshape(view.shape)


def to_tensor(sequence: np.ndarray) -> torch.Tensor:
    """[T, M, J, 3] → [3, T, J, M]."""
    return torch.from_numpy(np.ascontiguousarray(sequence.transpose(3, 0, 2, 1)))


class SkeletonDataset(LabelledSamples):
    """Each item: ``clips`` [V, 3, T, J, M]: ``views`` augmented views (``augment``) or, without one, the centre
    crop of ``length`` frames; its label indices, position and path (the items of
    :class:`vssl.data.loader.VideoClipDataset`, so :func:`~vssl.data.loader.make_loader` batches them; ``frames``
    is empty). A missing file is left out and listed in ``unreadable``; one that fails to parse is skipped (the item
    carries its path under ``skipped``)."""

    def __init__(self, samples: list[Sample], length: int, augment: SkeletonAugment | None = None, views: int = 2,
                 label_sets: list[str] | None = None, class_names: dict[str, list[str]] | None = None,
                 seed: int = 0):
        self.unreadable = [s.path for s in samples if not Path(s.path).is_file()]
        self.samples = [s for s in samples if Path(s.path).is_file()]
        self.length, self.augment, self.views, self.seed = length, augment, views if augment else 1, seed
        self.label_sets = label_sets or []
        self.class_to_idx = {name: {c: i for i, c in enumerate((class_names or {})[name])}
                             for name in self.label_sets}

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, i = key if isinstance(key, tuple) else (0, key)
        sample = self.samples[i]
        try:
            sequence = read_sequence(sample.path)
        except VsslError:
            return {"skipped": sample.path}
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, i]))  # resumable, worker-independent
        if self.augment is None:
            views = [centre_crop(sequence, self.length)]
        else:
            views = [self.augment(rng, sequence) for _ in range(self.views)]
        labels = [self.class_to_idx[name][sample.labels[name]] for name in self.label_sets]
        return {"clips": torch.stack([to_tensor(v) for v in views]), "labels": torch.tensor(labels, dtype=torch.long),
                "index": i, "path": sample.path, "frames": torch.zeros((len(views), 0), dtype=torch.long)}
