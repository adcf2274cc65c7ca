"""Untrimmed world videos for temporal action localization (the role of Resnick et al. 2019's Gymnastics at CPU
scale): long videos of one world scene (its sky, clouds and hand-held camera throughout) in which sprites perform
the world's motion classes in separate segments between idle stretches, where a bystander sprite rests on the
ground. Ground truth is written as ActivityNet JSON
(`annotations.json`, read by :func:`vssl.data.formats.temporal_annotations.read_activitynet_json`), the videos as
H.264 mp4 with a manifest of paths and splits.

The background of a video (scene, clouds, camera) is drawn from its own random stream and the sprites from another,
so a video rendered without its actions shows exactly the same idle frames.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import ConfigError
from vssl.core.io import write_text_atomic
from vssl.data.manifest import Sample, write_manifest
from vssl.data.synthetic import BACKGROUND_POOL_SEED, PRESETS, _split_code, write_mp4
from vssl.data.synthetic_sprites import paint_sprite, sprite_colour
from vssl.data.synthetic_world import (CLOUD_GREY, START_BOX_X, TOP_LIGHT, _paint_shadow, _scene_for_video,
                                       camera_shake, cloud_cover, world_trajectory)

SUBSETS = {"train": "training", "test": "validation"}  # ActivityNet's subset names for our splits


@dataclass(frozen=True)
class UntrimmedConfig:
    name: str
    world: str = "world32"  # the world preset whose scenes, sprites, physics and clouds are used
    counts: dict = field(default_factory=lambda: {"train": 160, "test": 80})
    frames: tuple[int, int] = (320, 480)  # video length: 20–30 s at 16 fps
    actions: tuple[int, int] = (1, 4)  # action segments per video
    action_frames: tuple[int, int] = (24, 48)  # frames of one action
    min_gap: int = 8  # idle frames at least between two actions and at either end
    # a sprite resting on the ground through every idle stretch (as athletes stand between routines in Resnick et
    # al. 2019's Gymnastics): what marks an action is then its motion, not a sprite's mere presence
    bystander: bool = True


UNTRIMMED_PRESETS = {"world32_untrimmed": UntrimmedConfig(name="world32_untrimmed")}


def plan_segments(config: UntrimmedConfig, rng: np.random.Generator) -> tuple[int, list[tuple[int, int]]]:
    """(video frames, [(start, length)] of its actions in time order): non-overlapping, each at least ``min_gap``
    idle frames from the next and from the ends."""
    total = int(rng.integers(config.frames[0], config.frames[1] + 1))
    count = int(rng.integers(config.actions[0], config.actions[1] + 1))
    lengths = rng.integers(config.action_frames[0], config.action_frames[1] + 1, size=count)
    idle = total - int(lengths.sum()) - config.min_gap * (count + 1)
    if idle < 0:
        raise ConfigError(f"untrimmed preset '{config.name}': {count} actions do not fit {total} frames")
    cuts = np.sort(rng.integers(0, idle + 1, size=count))  # extra idle frames before each action
    segments, position, used = [], config.min_gap, 0
    for length, cut in zip(lengths.tolist(), cuts.tolist()):
        start = position + (cut - used)
        segments.append((start, length))
        position, used = start + length + config.min_gap, cut
    return total, segments


def render_untrimmed(world, total: int, actions: list[tuple[int, int, str, str]], background: np.random.Generator,
                     sprites: np.random.Generator, bystander: bool = False) -> np.ndarray:
    """uint8 frames [total, H, W, 3]: the background from ``background`` (scene, clouds, camera shake, noise) and
    each action (start, length, motion, appearance) painted from ``sprites``; with ``bystander`` (drawn after the
    actions, so their draws do not change) a still sprite rests on the ground in every frame outside them."""
    size, jitter = world.size, world.jitter_px
    scene, horizon = _scene_for_video(world, background, BACKGROUND_POOL_SEED)
    shifts = camera_shake(background, total, jitter)
    clouds = cloud_cover(dataclasses.replace(world, num_frames=total), background, horizon)[..., None] \
        if world.cloud_speed else None
    frames = np.empty((total, size, size, 3), dtype=np.float32)
    for t, (sx, sy) in enumerate(shifts):
        window = np.s_[jitter + sy: jitter + sy + size, jitter + sx: jitter + sx + size]
        frames[t] = scene[window] if clouds is None else scene[window] + clouds[t][window] * (CLOUD_GREY - scene[window])
    for start, length, motion, appearance in actions:
        radius = sprites.uniform(*world.sprite_radius) * size
        rotation = sprites.uniform(math.radians(world.rotation_deg[0]), math.radians(world.rotation_deg[1]))
        colour = sprite_colour(sprites)
        path = world_trajectory(dataclasses.replace(world, num_frames=length), motion, radius, horizon, sprites)
        for k in range(length):
            t = start + k
            sx, sy = shifts[t]
            centre = path[k] - (sx, sy)
            _paint_shadow(frames[t], centre[0], horizon - sy, radius, horizon - radius - path[k, 1], size)
            paint_sprite(frames[t], appearance, centre, radius, rotation, colour, top_light=TOP_LIGHT)
    if bystander:
        _paint_bystander(world, frames, actions, horizon, shifts, sprites)
    if world.noise_std > 0:
        frames += background.standard_normal(frames.shape, dtype=np.float32) * np.float32(world.noise_std / 255)
    return np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8)


def _paint_bystander(world, frames: np.ndarray, actions: list[tuple[int, int, str, str]], horizon: float,
                     shifts: np.ndarray, sprites: np.random.Generator) -> None:
    """A sprite of a random appearance standing still on the ground (in the scene: only the camera moves it) in
    every frame outside the actions."""
    size = world.size
    radius = sprites.uniform(*world.sprite_radius) * size
    rotation = sprites.uniform(math.radians(world.rotation_deg[0]), math.radians(world.rotation_deg[1]))
    colour = sprite_colour(sprites)
    appearance = str(sprites.choice(world.appearance_classes))
    x = sprites.uniform(*START_BOX_X) * size
    busy = np.zeros(len(frames), dtype=bool)
    for start, length, _, _ in actions:
        busy[start:start + length] = True
    for t in np.nonzero(~busy)[0]:
        sx, sy = shifts[t]
        centre = np.array([x, horizon - radius]) - (sx, sy)
        _paint_shadow(frames[t], centre[0], horizon - sy, radius, 0.0, size)
        paint_sprite(frames[t], appearance, centre, radius, rotation, colour, top_light=TOP_LIGHT)


def video_streams(seed: int, split: str, index: int) -> tuple[np.random.Generator, np.random.Generator,
                                                              np.random.Generator]:
    """The plan, background and sprite generators of one video, from (seed, split, index) alone."""
    plan, background, sprites = np.random.SeedSequence([seed, _split_code(split), index]).spawn(3)
    return np.random.default_rng(plan), np.random.default_rng(background), np.random.default_rng(sprites)


def generate_untrimmed(out, preset: str = "world32_untrimmed", seed: int = 0, progress: bool = True) -> Path:
    """Write ``videos/*.mp4``, ``annotations.json`` (ActivityNet) and ``manifest.csv`` (path, split) into ``out``;
    → the manifest path. The output depends only on (preset, seed)."""
    if preset not in UNTRIMMED_PRESETS:
        raise ConfigError(f"unknown untrimmed preset {preset!r} (valid: {', '.join(UNTRIMMED_PRESETS)})")
    config = UNTRIMMED_PRESETS[preset]
    world = PRESETS[config.world]
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    database, samples = {}, []
    jobs = [(split, index) for split, count in config.counts.items() for index in range(count)]
    for split, index in tqdm(jobs, desc=f"{preset} videos", unit="video", disable=not progress):
        plan_rng, background, sprites = video_streams(seed, split, index)
        total, segments = plan_segments(config, plan_rng)
        actions = [(start, length, str(plan_rng.choice(world.motion_classes)),
                    str(plan_rng.choice(world.appearance_classes))) for start, length in segments]
        name = f"{split}_{index:05d}"
        path = out / "videos" / f"{name}.mp4"
        frames = render_untrimmed(world, total, actions, background, sprites, config.bystander)
        write_mp4(frames, path, world.fps, world.crf, world.x264_preset)
        database[name] = {"duration": total / world.fps, "fps": world.fps, "subset": SUBSETS[split],
                          "annotations": [{"label": motion, "segment": [start / world.fps, (start + length) / world.fps]}
                                          for start, length, motion, _ in actions]}
        samples.append(Sample(path=str(path), split=split))
    write_text_atomic(out / "annotations.json", json.dumps({"version": f"vssl {preset} seed {seed}",
                                                            "database": database}, indent=1))
    write_manifest(samples, out / "manifest.csv")
    return out / "manifest.csv"
