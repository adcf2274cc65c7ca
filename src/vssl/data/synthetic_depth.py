"""World videos paired with depth videos (distance from the camera), the depth column of the manifest naming them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import ConfigError
from vssl.data.formats.common import DatasetInfo, write_dataset_info
from vssl.data.manifest import DEPTH_COLUMN, Sample, write_manifest
from vssl.data.synthetic import BACKGROUND_POOL_SEED, PRESETS, SynthConfig, _split_code, balanced_labels, write_mp4
from vssl.data.synthetic_sprites import paint_sprite
from vssl.data.synthetic_world import WorldLayout, draw_world_layout, paint_world_video

# Depth as a fraction of the far plane (the sky). The camera looks level over flat ground: a ground point d rows
# below the horizon lies at distance h·f / d (pinhole camera at height h, focal length f); with f = the frame size
# S, GROUND_SCALE = h / S. [vssl] chosen so that the ground of a 32² world32 frame spans about 0.13-0.8.
SKY_DEPTH = 1.0
GROUND_SCALE = 0.02
GROUND_FAR = 0.8  # the ground is cut off here, short of the sky, so the horizon stays visible in depth
SPRITE_FOOT = 1.0  # a sprite moves in the upright plane standing on the ground this many radii below the horizon:
#                    nearer than any ground it covers (no shape reaches 1.6 radii below its centre, which rests one
#                    radius above the horizon)

# Paired RGB and depth videos for feature-supervised modality transfer (Thoker 2023, Ch. 2: unlabelled RGB-depth
# pairs for the transfer, few labelled depth videos per class for fine-tuning): the world32 world, 100 train
# videos per motion class so that subsets of 20, 50 and 100 per class exist (Thoker 2023 Table 2.3).
DEPTH_PRESETS = {"world32_depth": dataclasses.replace(PRESETS["world32"], name="world32_depth",
                                                      counts={"pretrain": 1000, "train": 400, "test": 400})}


def ground_depth(rows: np.ndarray, horizon: float, size: int) -> np.ndarray:
    """Depth of the ground at frame rows (pixel centres) at or below the horizon row."""
    below = np.maximum(rows - horizon, 1e-6)
    return np.minimum(GROUND_SCALE * size / below, GROUND_FAR)


def sprite_depth(radius: float, size: int) -> float:
    """Depth of the plane the sprite moves in: the ground's SPRITE_FOOT radii below the horizon."""
    return GROUND_SCALE * size / (SPRITE_FOOT * radius)


def render_depth(config: SynthConfig, layout: WorldLayout, appearance: str) -> np.ndarray:
    """Depth frames [T, H, W] in [0, 1] of a world video: sky, ground by row, the sprite (anti-aliased) on top."""
    size, centres = config.size, layout.centres
    rows = np.arange(size, dtype=np.float64)
    sprite = np.full(3, sprite_depth(layout.radius, size), dtype=np.float32)
    frames = np.empty((config.num_frames, size, size), dtype=np.float32)
    for t, (_, sy) in enumerate(layout.shifts):
        horizon = layout.horizon - sy  # in frame rows, as the scene is painted
        column = np.where(rows >= horizon, ground_depth(rows, horizon, size), SKY_DEPTH)
        frame = np.repeat(np.repeat(column[:, None, None], size, axis=1), 3, axis=2).astype(np.float32)
        paint_sprite(frame, appearance, centres[t], layout.radius, layout.rotation, sprite)
        frames[t] = frame[..., 0]
    return frames


def render_pair(config: SynthConfig, motion: str, appearance: str,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 [T, H, W, 3], depth uint8 [T, H, W, 3] with depth·255 in every channel) of one world video; the
    RGB video is the one ``synthetic.render_video`` draws from the same generator."""
    layout = draw_world_layout(config, motion, rng, BACKGROUND_POOL_SEED)
    video = paint_world_video(config, layout, appearance, rng)
    depth = np.round(np.clip(render_depth(config, layout, appearance), 0, 1) * 255).astype(np.uint8)
    return video, np.repeat(depth[..., None], 3, axis=-1)


def generate_depth(out, preset: str | SynthConfig = "world32_depth", seed: int = 0, progress: bool = True) -> Path:
    """Write ``videos/<split>_<i>.mp4`` and ``videos/<split>_<i>.depth.mp4``, ``manifest.csv`` (labels motion,
    appearance; column ``depth``: the depth video, relative to the manifest's folder) and its sidecars into ``out``;
    → the manifest path. The output depends only on (preset, seed)."""
    if not isinstance(preset, SynthConfig) and preset not in DEPTH_PRESETS:
        raise ConfigError(f"unknown depth preset {preset!r} (valid: {', '.join(DEPTH_PRESETS)})")
    config = preset if isinstance(preset, SynthConfig) else DEPTH_PRESETS[preset]
    if not config.world:
        raise ConfigError(f"depth preset '{config.name}': depth is drawn for the world benchmark only (world=True)")
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    jobs = [(split, index, motion, appearance) for split in config.counts
            for index, (motion, appearance) in enumerate(balanced_labels(config, split, seed))]
    samples = []
    for split, index, motion, appearance in tqdm(jobs, desc=f"{config.name} videos", unit="video",
                                                 disable=not progress):
        rng = np.random.default_rng(np.random.SeedSequence([seed, _split_code(split), index]))
        video, depth = render_pair(config, motion, appearance, rng)
        name = f"videos/{split}_{index:05d}"
        write_mp4(video, out / f"{name}.mp4", config.fps, config.crf, config.x264_preset)
        write_mp4(depth, out / f"{name}.depth.mp4", config.fps, config.crf, config.x264_preset)
        samples.append(Sample(str(out / f"{name}.mp4"), split,
                              {"motion": motion, "appearance": appearance, DEPTH_COLUMN: f"{name}.depth.mp4"}))
    manifest = out / "manifest.csv"
    write_dataset_info(DatasetInfo("synthetic", {"motion": list(config.motion_classes),
                                                 "appearance": list(config.appearance_classes)},
                                   horizontal_flip=True, options={"preset": config.name, "seed": str(seed)},
                                   splits=dict(config.counts), train_split="train", test_split="test"), manifest)
    write_manifest(samples, manifest)
    return manifest
