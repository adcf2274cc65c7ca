"""World videos with 1–2 sprites, each doing a motion class, boxed per keyframe in AVA's CSV format (`st_detection`).

The synthetic counterpart of AVA v2.2 and UCF101-24 (Thoker 2023 Ch. 4 task shift): every sprite is a "person"
with one action, its motion class, for the whole video; each keyframe (1 per second, as AVA's) lists the box of
every sprite in view, tight around the pixels it covers. ``boxes.csv`` and ``action_list.pbtxt`` are written in
AVA's formats (:mod:`vssl.data.formats.spatiotemporal`), so the reader of AVA serves both. A video's plan, background
and sprites come from their own random streams of (seed, split, index), as in :mod:`vssl.data.synthetic_untrimmed`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import ConfigError
from vssl.data.formats.spatiotemporal import BoxAnnotations, Keyframe, LabelledBox, write_ava
from vssl.data.manifest import Sample, write_manifest
from vssl.data.synthetic import BACKGROUND_POOL_SEED, PRESETS, SynthConfig, write_mp4
from vssl.data.synthetic_sprites import paint_sprite, sprite_colour, sprite_coverage
from vssl.data.synthetic_untrimmed import video_streams
from vssl.data.synthetic_world import (CLOUD_GREY, TOP_LIGHT, _paint_shadow, _scene_for_video, camera_shake,
                                       cloud_cover, world_trajectory)

BOXES_FILE, LABEL_MAP_FILE = "boxes.csv", "action_list.pbtxt"


@dataclass(frozen=True)
class BoxesConfig:
    name: str
    world: str = "world32"  # the world preset whose scenes, sprites, physics and clouds are used
    counts: dict = field(default_factory=lambda: {"train": 160, "test": 80})
    sprites: tuple[int, int] = (1, 2)  # sprites per video, each with its own (possibly shared) motion class
    # smaller than world32's (0.18, 0.22), as world32_multilabel's, so that two sprites seldom hide one another
    sprite_radius: tuple[float, float] = (0.12, 0.16)
    keyframe_period: float = 1.0  # seconds between keyframes, from the first second on (AVA: 1 Hz, Gu et al. 2018)


BOXES_PRESETS = {"world32_boxes": BoxesConfig(name="world32_boxes")}


@dataclass
class SpriteTrack:
    """One sprite of a video: its classes, size, orientation, colour and in-frame centres [T, 2]."""

    motion: str
    appearance: str
    radius: float
    rotation: float
    colour: np.ndarray
    centres: np.ndarray


def render_boxes_video(world: SynthConfig, plan: list[tuple[str, str]], background: np.random.Generator,
                       sprites: np.random.Generator) -> tuple[np.ndarray, list[SpriteTrack]]:
    """uint8 frames [T, H, W, 3] of one scene (from ``background``: scene, clouds, camera, noise) with the sprites
    of ``plan`` (motion, appearance), drawn from ``sprites`` and painted in order; and each sprite's track."""
    size, jitter, total = world.size, world.jitter_px, world.num_frames
    scene, horizon = _scene_for_video(world, background, BACKGROUND_POOL_SEED)
    shifts = camera_shake(background, total, jitter)
    clouds = cloud_cover(world, background, horizon)[..., None] if world.cloud_speed else None
    tracks = []
    for motion, appearance in plan:
        radius = sprites.uniform(*world.sprite_radius) * size
        rotation = sprites.uniform(math.radians(world.rotation_deg[0]), math.radians(world.rotation_deg[1]))
        colour = sprite_colour(sprites)
        path = world_trajectory(world, motion, radius, horizon, sprites)
        tracks.append(SpriteTrack(motion, appearance, radius, rotation, colour, path - shifts))
    frames = np.empty((total, size, size, 3), dtype=np.float32)
    for t, (sx, sy) in enumerate(shifts):
        window = np.s_[jitter + sy: jitter + sy + size, jitter + sx: jitter + sx + size]
        frames[t] = scene[window]
        if clouds is not None:
            frames[t] += clouds[t][window] * (CLOUD_GREY - scene[window])
        for track in tracks:
            x, y = track.centres[t]
            _paint_shadow(frames[t], x, horizon - sy, track.radius, horizon - track.radius - (y + sy), size)
            paint_sprite(frames[t], track.appearance, track.centres[t], track.radius, track.rotation, track.colour,
                         top_light=TOP_LIGHT)
    if world.noise_std > 0:
        frames += background.standard_normal(frames.shape, dtype=np.float32) * np.float32(world.noise_std / 255)
    return np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8), tracks


def sprite_box(track: SpriteTrack, frame: int, size: int) -> tuple[float, float, float, float] | None:
    """The box (x1, y1, x2, y2 as fractions of the frame; pixel i spans [i, i + 1]) of the pixels the sprite
    covers on ``frame``, or None when it is out of view."""
    cx, cy = track.centres[frame]
    pixels = np.arange(size, dtype=np.float64)
    covered = sprite_coverage(track.appearance, pixels[None, :] - cx, pixels[:, None] - cy, track.radius,
                              track.rotation) > 0
    columns, rows = np.nonzero(covered.any(axis=0))[0], np.nonzero(covered.any(axis=1))[0]
    if not len(columns):
        return None
    return columns[0] / size, rows[0] / size, (columns[-1] + 1) / size, (rows[-1] + 1) / size


def keyframe_indices(config: BoxesConfig, world: SynthConfig) -> list[tuple[float, int]]:
    """(time in seconds, frame) of every keyframe: each ``keyframe_period`` from the first period on."""
    keyframes, k = [], 1
    while round(k * config.keyframe_period * world.fps) < world.num_frames:
        keyframes.append((k * config.keyframe_period, round(k * config.keyframe_period * world.fps)))
        k += 1
    return keyframes


def plan_sprites(config: BoxesConfig, world: SynthConfig, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(motion, appearance) of each of ``config.sprites`` sprites, in painting order."""
    count = int(rng.integers(config.sprites[0], config.sprites[1] + 1))
    return [(str(rng.choice(world.motion_classes)), str(rng.choice(world.appearance_classes))) for _ in range(count)]


def generate_boxes(out, preset: str | BoxesConfig = "world32_boxes", seed: int = 0, progress: bool = True) -> Path:
    """Write ``videos/*.mp4``, ``boxes.csv`` and ``action_list.pbtxt`` (AVA formats; video ids are the file names
    without extension) and ``manifest.csv`` (path, split) into ``out``; → the manifest path. The output depends
    only on (preset, seed)."""
    config = preset if isinstance(preset, BoxesConfig) else BOXES_PRESETS.get(preset)
    if config is None:
        raise ConfigError(f"unknown boxes preset {preset!r} (valid: {', '.join(BOXES_PRESETS)})")
    if not 1 <= config.sprites[0] <= config.sprites[1]:
        raise ConfigError(f"boxes preset '{config.name}': sprites {config.sprites} must be a range from 1 up")
    world = dataclasses.replace(PRESETS[config.world], sprite_radius=config.sprite_radius)
    classes = list(world.motion_classes)
    keyframes = keyframe_indices(config, world)
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    annotations, samples = BoxAnnotations(classes), []
    jobs = [(split, index) for split, count in config.counts.items() for index in range(count)]
    for split, index in tqdm(jobs, desc=f"{config.name} videos", unit="video", disable=not progress):
        plan_rng, background, sprites = video_streams(seed, split, index)
        frames, tracks = render_boxes_video(world, plan_sprites(config, world, plan_rng), background, sprites)
        path = out / "videos" / f"{split}_{index:05d}.mp4"
        write_mp4(frames, path, world.fps, world.crf, world.x264_preset)
        for time, frame in keyframes:
            boxes = [LabelledBox(box, (classes.index(track.motion),), person)
                     for person, track in enumerate(tracks) if (box := sprite_box(track, frame, world.size))]
            if boxes:
                annotations.keyframes.append(Keyframe(path.stem, boxes, time=time))
        samples.append(Sample(path=str(path), split=split))
    write_ava(out / BOXES_FILE, out / LABEL_MAP_FILE, annotations)
    write_manifest(samples, out / "manifest.csv")
    return out / "manifest.csv"
