"""Multi-label world videos, the synthetic counterpart of Charades (Thoker 2023 Ch. 4 task shift): 2–3 sprites share
one world scene (its sky, clouds and hand-held camera), each performing its own motion class for the whole video; a
video's label set ``motions`` is the set of those classes (';'-joined in class order,
:func:`vssl.data.manifest.join_labels`), evaluated by `vssl eval multilabel`.

Each video's plan (its sprites' motions and shapes), background and sprites come from their own random streams of
(seed, split, index), as in :mod:`vssl.data.synthetic_untrimmed`, whose renderer paints the sprites.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import ConfigError
from vssl.core.io import write_json_atomic
from vssl.data.formats.common import DatasetInfo, write_dataset_info
from vssl.data.manifest import Sample, join_labels, label_list, write_manifest
from vssl.data.synthetic import PRESETS, write_mp4
from vssl.data.synthetic_untrimmed import render_untrimmed, video_streams

LABEL_SET = "motions"


@dataclass(frozen=True)
class MultilabelConfig:
    name: str
    world: str = "world32"  # the world preset whose scenes, sprites, physics and clouds are used
    counts: dict = field(default_factory=lambda: {"train": 200, "test": 100})
    num_frames: int = 32  # 2 s at 16 fps: a drop has bounced (13 frames a fall), a floater has risen
    sprites: tuple[int, int] = (2, 3)  # sprites per video, each with its own motion class
    # smaller than world32's (0.18, 0.22) so that three sprites in a 32² frame seldom hide one another
    sprite_radius: tuple[float, float] = (0.12, 0.16)


MULTILABEL_PRESETS = {"world32_multilabel": MultilabelConfig(name="world32_multilabel")}


def resolve_multilabel(preset: str | MultilabelConfig) -> MultilabelConfig:
    if isinstance(preset, MultilabelConfig):
        return preset
    if preset not in MULTILABEL_PRESETS:
        raise ConfigError(f"unknown multi-label preset {preset!r} (valid: {', '.join(MULTILABEL_PRESETS)})")
    return MULTILABEL_PRESETS[preset]


def plan_sprites(config: MultilabelConfig, motion_classes: tuple[str, ...], appearance_classes: tuple[str, ...],
                 rng: np.random.Generator) -> list[tuple[str, str]]:
    """(motion, appearance) of each sprite, in painting order: ``config.sprites`` sprites with distinct motions."""
    low, high = config.sprites
    if not 1 <= low <= high <= len(motion_classes):
        raise ConfigError(f"multi-label preset '{config.name}': sprites {config.sprites} must lie within "
                          f"1..{len(motion_classes)} (one motion class each)")
    count = int(rng.integers(low, high + 1))
    motions = rng.choice(len(motion_classes), size=count, replace=False)
    return [(motion_classes[m], str(rng.choice(appearance_classes))) for m in motions]


def generate_multilabel(out, preset: str | MultilabelConfig = "world32_multilabel", seed: int = 0,
                        progress: bool = True) -> Path:
    """Write ``videos/*.mp4``, ``manifest.csv`` (path, split, motions), its sidecar (the class order) and
    ``synth.json`` (the plan of every video) into ``out``; → the manifest path. The output depends only on
    (preset, seed)."""
    config = resolve_multilabel(preset)
    world = dataclasses.replace(PRESETS[config.world], num_frames=config.num_frames,
                                sprite_radius=config.sprite_radius)
    order = {name: i for i, name in enumerate(world.motion_classes)}
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    samples, plans = [], {}
    jobs = [(split, index) for split, count in config.counts.items() for index in range(count)]
    for split, index in tqdm(jobs, desc=f"{config.name} videos", unit="video", disable=not progress):
        plan_rng, background, sprites = video_streams(seed, split, index)
        plan = plan_sprites(config, world.motion_classes, world.appearance_classes, plan_rng)
        path = out / "videos" / f"{split}_{index:05d}.mp4"
        actions = [(0, config.num_frames, motion, appearance) for motion, appearance in plan]
        write_mp4(render_untrimmed(world, config.num_frames, actions, background, sprites), path, world.fps,
                  world.crf, world.x264_preset)
        motions = sorted({motion for motion, _ in plan}, key=order.__getitem__)
        samples.append(Sample(path=str(path), split=split, labels={LABEL_SET: join_labels(motions)}))
        plans[path.name] = [list(sprite) for sprite in plan]
    splits = {split: dict(sorted(Counter(name for s in samples if s.split == split
                                         for name in label_list(s, LABEL_SET)).items())) for split in config.counts}
    write_json_atomic(out / "synth.json", {"preset": config.name, "seed": seed, "config": dataclasses.asdict(config),
                                           "classes": {LABEL_SET: list(world.motion_classes)},
                                           "positives": splits, "sprites": plans}, trailing_newline=True)
    manifest = out / "manifest.csv"
    write_dataset_info(DatasetInfo("synthetic", {LABEL_SET: list(world.motion_classes)}, horizontal_flip=True,
                                   options={"preset": config.name, "seed": str(seed)}, splits=dict(config.counts),
                                   train_split="train", test_split="test"), manifest)
    write_manifest(samples, manifest)
    return manifest
