"""Skeletons of the world benchmark's sprites (`vssl data synth --preset world32_skeleton`): per world video, the
sprite's 5 keypoints over time as a ``.npy`` file, for the skeleton methods of Thoker 2023 Ch. 3.

Keypoints [T, 5, 3] (float32): the sprite's centre, then the 4 corners of its bounding square (half-side = its
radius, turned by its rotation), as (x, y) in frame coordinates (camera shake included) and z = the point's height
above the ground line, all in units of the frame size. Video ``index`` of ``split`` draws from the same random stream
as the world video of that (seed, split, index) (:func:`vssl.data.synthetic.render_video`), so its centre keypoint is
that video's sprite centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import ConfigError
from vssl.core.io import atomic_open
from vssl.data.formats.common import DatasetInfo, write_dataset_info
from vssl.data.manifest import Sample, write_manifest
from vssl.data.synthetic import BACKGROUND_POOL_SEED, PRESETS, SynthConfig, _split_code, balanced_labels
from vssl.data.synthetic_sprites import sprite_colour
from vssl.data.synthetic_world import _scene_for_video, camera_shake, world_trajectory

CORNERS = np.array([(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)])  # sprite coordinates (u, v) × radius
JOINTS = 1 + len(CORNERS)


@dataclass(frozen=True)
class SkeletonSynthConfig:
    """A skeleton benchmark: the world preset whose sprites it traces and its sequences per split (None: the
    world's own counts)."""

    name: str
    world: str = "world32"
    counts: dict | None = None


SKELETON_PRESETS = {"world32_skeleton": SkeletonSynthConfig("world32_skeleton")}


def sprite_keypoints(centres: np.ndarray, shifts: np.ndarray, radius: float, rotation: float, horizon: float,
                     size: int) -> np.ndarray:
    """[T, 5, 3] keypoints of a sprite at in-frame ``centres`` [T, 2] seen by a camera shaken by ``shifts`` [T, 2]
    (scene = frame + shift); corners turned as the painter turns shapes (x = r(u cos − v sin), y = r(u sin + v cos))."""
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    offsets = radius * CORNERS @ np.array([[cos_r, sin_r], [-sin_r, cos_r]])
    points = np.concatenate([centres[:, None], centres[:, None] + offsets[None]], axis=1)  # [T, 5, 2]
    height = horizon - (points[..., 1] + shifts[:, None, 1])
    return (np.concatenate([points, height[..., None]], axis=-1) / size).astype(np.float32)


def world_keypoints(config: SynthConfig, motion: str, rng: np.random.Generator) -> np.ndarray:
    """The keypoints [T, 5, 3] of the sprite that :func:`vssl.data.synthetic_world.render_world_video` paints from
    ``rng``: the same draws in the same order, without painting."""
    size = config.size
    radius = rng.uniform(*config.sprite_radius) * size
    rotation = rng.uniform(math.radians(config.rotation_deg[0]), math.radians(config.rotation_deg[1]))
    sprite_colour(rng)  # drawn by the video too: keeps the two streams in step
    _, horizon = _scene_for_video(config, rng, BACKGROUND_POOL_SEED)
    world = world_trajectory(config, motion, radius, horizon, rng)
    shifts = camera_shake(rng, config.num_frames, config.jitter_px)
    return sprite_keypoints(world - shifts, shifts, radius, rotation, horizon, size)


def generate_skeleton(out, preset: str | SkeletonSynthConfig = "world32_skeleton", seed: int = 0,
                      progress: bool = True) -> Path:
    """Write ``skeletons/<split>_<index>.npy``, ``manifest.csv`` (labels ``motion``, ``appearance``) and its sidecar
    into ``out``; → the manifest path. The output depends only on (preset, seed)."""
    if not isinstance(preset, SkeletonSynthConfig) and preset not in SKELETON_PRESETS:
        raise ConfigError(f"unknown skeleton preset {preset!r} (valid: {', '.join(SKELETON_PRESETS)})")
    config = preset if isinstance(preset, SkeletonSynthConfig) else SKELETON_PRESETS[preset]
    world = PRESETS[config.world]
    world = world if config.counts is None else replace(world, counts=dict(config.counts))
    out = Path(out)
    (out / "skeletons").mkdir(parents=True, exist_ok=True)
    jobs = [(split, index, motion, appearance) for split in world.counts
            for index, (motion, appearance) in enumerate(balanced_labels(world, split, seed))]
    samples = []
    for split, index, motion, appearance in tqdm(jobs, desc=f"{config.name} skeletons", unit="sequence",
                                                 disable=not progress):
        rng = np.random.default_rng(np.random.SeedSequence([seed, _split_code(split), index]))
        path = out / "skeletons" / f"{split}_{index:05d}.npy"
        with atomic_open(path, "wb") as f:
            np.save(f, world_keypoints(world, motion, rng))
        samples.append(Sample(str(path), split, {"motion": motion, "appearance": appearance}))
    manifest = out / "manifest.csv"
    write_dataset_info(DatasetInfo("synthetic_skeleton", {"motion": list(world.motion_classes),
                                                          "appearance": list(world.appearance_classes)},
                                   horizontal_flip=True, options={"preset": config.name, "seed": str(seed)},
                                   splits=dict(world.counts), train_split="train", test_split="test"), manifest)
    write_manifest(samples, manifest)
    return manifest
