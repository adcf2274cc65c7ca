"""World videos of a sprite repeating a periodic action n times, the count as label: UCFRep's synthetic stand-in."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import ConfigError
from vssl.data.formats.common import DatasetInfo, write_dataset_info
from vssl.data.formats.repetition import COUNT_LABEL
from vssl.data.manifest import Sample, write_manifest
from vssl.data.synthetic import BACKGROUND_POOL_SEED, PRESETS, _split_code, write_mp4
from vssl.data.synthetic_sprites import SHAPE_EXTENT, paint_sprite, sprite_colour
from vssl.data.synthetic_untrimmed import video_streams
from vssl.data.synthetic_world import (CLOUD_GREY, START_BOX_X, TOP_LIGHT, _paint_shadow, _scene_for_video,
                                       camera_shake, cloud_cover)

# Periodic actions, each cycle a full period that starts and ends at rest: a bounce (up from the ground to its apex
# and back, a parabola: a lossless dribble) and a sway (sideways there and back along the ground, a sine).
ACTIONS = ("bounce", "sway")


@dataclass(frozen=True)
class RepetitionConfig:
    """A repetition benchmark: the world whose scenes and sprites it paints, videos per split, and the ranges every
    video draws its count, length and cycle length from (frames at the world's 16 fps)."""

    name: str
    world: str = "world32"
    counts: dict = field(default_factory=lambda: {"train": 360, "test": 180})  # 20 / 10 per (count, action)
    repetitions: tuple[int, int] = (2, 10)
    frames: tuple[int, int] = (64, 96)  # 4–6 s
    # a cycle of 8–16 frames: 32 frames spread over a video show at least 2.6 of them per cycle (test_counting.py)
    cycle_frames: tuple[float, float] = (8.0, 16.0)
    min_rest: int = 4  # frames at rest at least before the first repetition and after the last
    bounce_height: tuple[float, float] = (0.25, 0.4)  # apex above the resting height, fraction of the frame size
    sway_amplitude: tuple[float, float] = (0.15, 0.22)  # sideways reach either way, fraction of the frame size

    def __post_init__(self):
        low, high = self.repetitions
        if not 1 <= low <= high or not 0 < self.cycle_frames[0] <= self.cycle_frames[1]:
            raise ConfigError(f"repetition preset '{self.name}': repetitions {self.repetitions} and cycle_frames "
                              f"{self.cycle_frames} must be (low, high) ranges from 1 and above 0")
        if high * self.cycle_frames[0] + 2 * self.min_rest > self.frames[1]:
            raise ConfigError(f"repetition preset '{self.name}': {high} cycles of {self.cycle_frames[0]} frames do "
                              f"not fit {self.frames[1]} frames")


REPETITION_PRESETS = {"world32_repetition": RepetitionConfig(name="world32_repetition")}


@dataclass(frozen=True)
class RepetitionPlan:
    """One video: its length, count, cycle length and first cycle's start (frames), action, shape and the action's
    reach (pixels)."""

    frames: int
    count: int
    cycle: float
    onset: float
    action: str
    appearance: str
    reach: float

    def phases(self) -> np.ndarray:
        """Cycles done by each frame [T]: 0 before the onset, ``count`` after the last cycle ends."""
        return np.clip((np.arange(self.frames) - self.onset) / self.cycle, 0.0, self.count)


def draw_plan(config: RepetitionConfig, world, count: int, action: str, rng: np.random.Generator) -> RepetitionPlan:
    """A video of ``count`` cycles: a length that fits them, then a cycle length and a rest before them."""
    shortest, longest = config.cycle_frames
    frames = int(rng.integers(max(config.frames[0], math.ceil(count * shortest) + 2 * config.min_rest),
                              config.frames[1] + 1))
    cycle = rng.uniform(shortest, min(longest, (frames - 2 * config.min_rest) / count))
    onset = rng.uniform(config.min_rest, frames - config.min_rest - count * cycle)
    reach = rng.uniform(*(config.bounce_height if action == "bounce" else config.sway_amplitude)) * world.size
    return RepetitionPlan(frames, count, cycle, onset, action, str(rng.choice(world.appearance_classes)), reach)


def repetition_path(plan: RepetitionPlan, rest: tuple[float, float]) -> np.ndarray:
    """Sprite centres [T, 2] (x, y) in scene coordinates, at ``rest`` outside the cycles."""
    within = plan.phases() % 1.0  # 0 at rest and at each cycle's start
    x, y = np.full(plan.frames, rest[0]), np.full(plan.frames, rest[1])
    if plan.action == "bounce":
        y = y - plan.reach * 4 * within * (1 - within)
    else:
        x = x + plan.reach * np.sin(2 * math.pi * within)
    return np.stack([x, y], axis=1)


def render_repetition(world, plan: RepetitionPlan, background: np.random.Generator,
                      sprites: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames [T, H, W, 3] and the sprite's path [T, 2]: the background from ``background`` (scene, clouds,
    camera shake, noise), the sprite resting on the ground from ``sprites``."""
    size, jitter = world.size, world.jitter_px
    scene, horizon = _scene_for_video(world, background, BACKGROUND_POOL_SEED)
    shifts = camera_shake(background, plan.frames, jitter)
    clouds = cloud_cover(dataclasses.replace(world, num_frames=plan.frames), background, horizon)[..., None] \
        if world.cloud_speed else None
    radius = sprites.uniform(*world.sprite_radius) * size
    rotation = sprites.uniform(math.radians(world.rotation_deg[0]), math.radians(world.rotation_deg[1]))
    colour = sprite_colour(sprites)
    if plan.action == "sway":  # the whole sway inside the frame where it fits
        low, high = SHAPE_EXTENT * radius + plan.reach, size - SHAPE_EXTENT * radius - plan.reach
        x = sprites.uniform(low, high) if low < high else size / 2
    else:
        x = sprites.uniform(*START_BOX_X) * size
    ground = horizon - radius
    path = repetition_path(plan, (x, ground))
    frames = np.empty((plan.frames, size, size, 3), dtype=np.float32)
    for t, (sx, sy) in enumerate(shifts):
        window = np.s_[jitter + sy: jitter + sy + size, jitter + sx: jitter + sx + size]
        frames[t] = scene[window] if clouds is None else \
            scene[window] + clouds[t][window] * (CLOUD_GREY - scene[window])
        centre = path[t] - (sx, sy)
        _paint_shadow(frames[t], centre[0], horizon - sy, radius, ground - path[t, 1], size)
        paint_sprite(frames[t], plan.appearance, centre, radius, rotation, colour, top_light=TOP_LIGHT)
    if world.noise_std > 0:
        frames += background.standard_normal(frames.shape, dtype=np.float32) * np.float32(world.noise_std / 255)
    return np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8), path


def balanced_counts(config: RepetitionConfig, split: str, seed: int) -> list[tuple[int, str]]:
    """(count, action) per video of a split: every pair equally often (±1), in a seeded random order."""
    pairs = [(n, a) for n in range(config.repetitions[0], config.repetitions[1] + 1) for a in ACTIONS]
    total = config.counts[split]
    rng = np.random.default_rng(np.random.SeedSequence([seed, _split_code(split)]))
    indices = np.concatenate([np.tile(np.arange(len(pairs)), total // len(pairs)),
                              rng.choice(len(pairs), total % len(pairs), replace=False)])
    return [pairs[i] for i in rng.permutation(indices)]


def video_plan(config: RepetitionConfig, seed: int, split: str, index: int, count: int,
               action: str) -> tuple[RepetitionPlan, np.random.Generator, np.random.Generator]:
    """The plan of video ``index`` of ``split`` and its background and sprite generators, from (seed, split, index)."""
    plan_rng, background, sprites = video_streams(seed, split, index)
    return draw_plan(config, PRESETS[config.world], count, action, plan_rng), background, sprites


def generate_repetition(out, preset: str | RepetitionConfig = "world32_repetition", seed: int = 0,
                        progress: bool = True) -> Path:
    """Write ``videos/*.mp4``, ``manifest.csv`` (labels ``count``, ``action``, ``appearance``) and its sidecar into
    ``out``; → the manifest path. The output depends only on (preset, seed)."""
    if not isinstance(preset, RepetitionConfig) and preset not in REPETITION_PRESETS:
        raise ConfigError(f"unknown repetition preset {preset!r} (valid: {', '.join(REPETITION_PRESETS)})")
    config = preset if isinstance(preset, RepetitionConfig) else REPETITION_PRESETS[preset]
    world = PRESETS[config.world]
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    jobs = [(split, index, count, action) for split in config.counts
            for index, (count, action) in enumerate(balanced_counts(config, split, seed))]
    samples = []
    for split, index, count, action in tqdm(jobs, desc=f"{config.name} videos", unit="video", disable=not progress):
        plan, background, sprites = video_plan(config, seed, split, index, count, action)
        path = out / "videos" / f"{split}_{index:05d}.mp4"
        write_mp4(render_repetition(world, plan, background, sprites)[0], path, world.fps, world.crf,
                  world.x264_preset)
        samples.append(Sample(str(path), split, {COUNT_LABEL: str(count), "action": action,
                                                 "appearance": plan.appearance}))
    manifest = out / "manifest.csv"
    write_dataset_info(DatasetInfo("synthetic", {"action": list(ACTIONS), "appearance": list(world.appearance_classes)},
                                   horizontal_flip=True, options={"preset": config.name, "seed": str(seed)},
                                   splits=dict(config.counts), train_split="train", test_split="test"), manifest)
    write_manifest(samples, manifest)
    return manifest
