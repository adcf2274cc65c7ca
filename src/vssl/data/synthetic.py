"""Procedural synthetic video benchmark: H.264 videos of moving sprites labelled by motion and appearance."""

from __future__ import annotations

import math
import multiprocessing
import os
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from vssl.core.errors import ConfigError, VsslError
from vssl.core.io import atomic_path, write_json_atomic
from vssl.data.formats.common import DatasetInfo, write_dataset_info
from vssl.data.manifest import Sample, write_manifest
from vssl.data.synthetic_sprites import SHAPE_EXTENT, SHAPES, paint_sprite, sprite_colour
from vssl.data.synthetic_world import CLOUD_SPEED, FINE_WORLD_MOTIONS, WORLD_MOTIONS, render_world_video

# ---------------------------------------------------------------------------------------------------------------
# Trajectory shapes (motion classes). Each maps per-frame phase angles to unit-amplitude offsets [T, 2] (x, y) from
# the first-frame position, drawing its own random phase and direction. All are invariant under a horizontal flip
# (and under time reversal): a flip maps each class onto itself, so flip augmentation cannot erase the label.


def _oscillation(rng, angles, direction):
    phase = rng.uniform(0, 2 * math.pi)
    along = np.sin(phase + angles) - math.sin(phase)
    return along[:, None] * np.asarray(direction)[None, :]


def _horizontal(rng, angles):
    return _oscillation(rng, angles, (1.0, 0.0))


def _vertical(rng, angles):
    return _oscillation(rng, angles, (0.0, 1.0))


def _diagonal(rng, angles):
    """Back-and-forth along a line tilted 30-60 deg from horizontal, rising or falling with equal probability."""
    tilt = rng.uniform(math.radians(30), math.radians(60))
    sign = rng.choice((-1.0, 1.0))
    return _oscillation(rng, angles, (sign * math.cos(tilt), math.sin(tilt)))


def _circular(rng, angles):
    """Orbit, clockwise or counter-clockwise with equal probability."""
    phase = rng.uniform(0, 2 * math.pi)
    spin = rng.choice((-1.0, 1.0))
    turned = phase + spin * angles
    return np.stack([np.cos(turned) - math.cos(phase), np.sin(turned) - math.sin(phase)], axis=1)


def _orbit(rng, angles, spin: float):
    phase = rng.uniform(0, 2 * math.pi)
    turned = phase + spin * angles
    return np.stack([np.cos(turned) - math.cos(phase), np.sin(turned) - math.sin(phase)], axis=1)


# Fine-grained orbits (the `tiny_fine` preset): the rotation sense and the speed are the class. Unlike the classes
# above these are NOT flip-invariant (a mirror turns clockwise into counter-clockwise), so a dataset using them is
# marked "no horizontal flip", like Something-Something v2. "fast" runs twice as many turns as the config's cycles.
FINE_MOTIONS = {
    "orbit_cw": lambda rng, angles: _orbit(rng, angles, 1.0),
    "orbit_ccw": lambda rng, angles: _orbit(rng, angles, -1.0),
    "orbit_cw_fast": lambda rng, angles: _orbit(rng, angles, 2.0),
    "orbit_ccw_fast": lambda rng, angles: _orbit(rng, angles, -2.0),
}
MOTIONS = {"horizontal": _horizontal, "vertical": _vertical, "diagonal": _diagonal, "circular": _circular,
           **FINE_MOTIONS}
MAX_TRAJECTORY_TRIES = 10_000
BACKGROUNDS = ("noise", "stripes", "checker")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _free_area(config: SynthConfig, radius: float) -> tuple[float, float]:
    """Range of sprite-centre coordinates (pixel centres 0..size-1) that keeps the sprite inside every frame."""
    low = SHAPE_EXTENT * radius + config.jitter_px + 1
    return low, config.size - 1 - low


@dataclass
class SynthConfig:
    """Everything that defines a synthetic benchmark; lengths given as fractions are fractions of ``size``."""

    name: str  # preset name, recorded in synth.json
    size: int  # frame height = width in pixels; even (yuv420p)
    num_frames: int  # frames per video
    fps: float  # frame rate written into the mp4
    counts: dict[str, int]  # videos per split, e.g. {"pretrain": 320, "train": 160, "test": 160}
    motion_classes: tuple[str, ...] = ("horizontal", "vertical", "diagonal", "circular")  # keys of MOTIONS
    appearance_classes: tuple[str, ...] = ("disk", "square", "triangle", "cross")  # keys of SHAPES
    sprite_radius: tuple[float, float] = (0.08, 0.12)  # equal-area disk radius range, fraction of size
    amplitude: tuple[float, float] = (0.12, 0.2)  # oscillation half-extent / orbit radius range, fraction of size
    cycles: tuple[float, float] = (1.0, 2.0)  # full periods of the trajectory per video (speed nuisance)
    rotation_deg: tuple[float, float] = (0.0, 360.0)  # sprite orientation range in degrees, fixed within a video
    start_margin: float = 0.1  # first-frame centre is uniform over the free area shrunk by this fraction per side
    jitter_px: int = 1  # camera shake: whole-frame shift, uniform integer in [-jitter_px, jitter_px] per frame
    noise_std: float = 2.0  # Gaussian pixel noise, standard deviation on the 0-255 scale
    scene_cuts: int = 0  # background changes per video (evenly spaced "shot cuts"); the sprite and its motion persist
    recolour_at_cuts: bool = False  # the sprite's colour also changes at each cut (its shape and motion do not)
    background_contrast: float = 1.0  # scales the texture's colour difference (1 = full, 0 = flat colour)
    background_pool: int = 0  # > 0: backgrounds come from this many scenes shared by all videos (0 = one per video)
    crf: int = 20  # libx264 constant rate factor (lower = higher quality)
    x264_preset: str = "veryfast"  # libx264 speed/size preset
    # False: sprites oscillate over flat textures (`tiny`); True: the upright physical world of synthetic_world.py
    # (`world*` presets: motion classes from WORLD_MOTIONS; amplitude, cycles and start_margin are not used, and
    # scene cuts are refused)
    world: bool = False
    speed_jitter: float = 0.1  # world only: a video's speeds and gravity vary by ± this fraction of the class's
    # world only: clouds drift across the sky at this speed (fraction of size per frame, ± speed_jitter per video),
    # the benchmark's steady pace cue (synthetic_world.CLOUD_SPEED); 0 = a clear sky
    cloud_speed: float = 0.0

    def __post_init__(self):
        self.counts = dict(self.counts)
        for name in ("motion_classes", "appearance_classes", "sprite_radius", "amplitude", "cycles", "rotation_deg"):
            setattr(self, name, tuple(getattr(self, name)))
        self._validate()

    def _fail(self, key: str, problem: str):
        raise ConfigError(f"SynthConfig '{self.name}': {key} {problem}, got {getattr(self, key)!r}")

    def _validate(self):
        if self.size < 16 or self.size % 2:
            self._fail("size", "must be an even number of pixels >= 16 (yuv420p needs even sizes)")
        if self.num_frames < 2:
            self._fail("num_frames", "must be >= 2")
        if self.fps <= 0:
            self._fail("fps", "must be positive")
        if not self.counts or any(not isinstance(n, int) or n < 0 for n in self.counts.values()):
            self._fail("counts", "must map split names to non-negative integers")
        for key, known in (("motion_classes", WORLD_MOTIONS if self.world else MOTIONS),
                           ("appearance_classes", SHAPES)):
            names = getattr(self, key)
            unknown = [n for n in names if n not in known]
            if not names or unknown or len(set(names)) != len(names):
                self._fail(key, f"must be distinct names from {', '.join(known)}")
        for key in ("sprite_radius", "amplitude", "cycles"):
            low, high = getattr(self, key)
            if not 0 < low <= high:
                self._fail(key, "must be a (low, high) range with 0 < low <= high")
        if not self.rotation_deg[0] <= self.rotation_deg[1]:
            self._fail("rotation_deg", "must be a (low, high) range with low <= high")
        if not 0 <= self.crf <= 51:
            self._fail("crf", "must be in 0..51")
        if self.x264_preset not in X264_PRESETS:
            self._fail("x264_preset", f"must be one of {', '.join(X264_PRESETS)}")
        if self.world and (self.scene_cuts or self.recolour_at_cuts):
            self._fail("scene_cuts", "is not supported by the world benchmark (its scene persists through a video)")
        if not 0 <= self.speed_jitter < 0.5:
            self._fail("speed_jitter", "must be in [0, 0.5): paces 2x apart must stay apart")
        if self.cloud_speed and not self.world:
            self._fail("cloud_speed", "is only drawn by the world benchmark (world=True)")
        for key in ("jitter_px", "noise_std", "start_margin", "scene_cuts", "background_contrast", "background_pool",
                    "cloud_speed"):
            if getattr(self, key) < 0:
                self._fail(key, "must be >= 0")
        low, high = _free_area(self, self.sprite_radius[1] * self.size)
        if not self.world and high - low <= 2 * self.start_margin * self.size:
            self._fail("sprite_radius", "leaves no room for the sprite to start (shrink sprites, jitter or margin)")


WORLD_CLASSES = ("drop", "toss", "slide", "float")
WORLD_SHAPES = ("disk", "ring", "bar", "pillar")  # coarse forms a 32² clip shows clearly (calibration.md)
PRESETS: dict[str, SynthConfig] = {
    "tiny": SynthConfig(name="tiny", size=64, num_frames=48, fps=16,
                        counts={"pretrain": 320, "train": 160, "test": 160}),
    # The demo's benchmark: `tiny` with 4 scenes shared by all videos (the background no longer identifies a video)
    # and near-upright sprites (±15°), the variant where ρSimCLR beat random init on motion (README).
    "tiny_upright": SynthConfig(name="tiny_upright", size=64, num_frames=48, fps=16,
                                counts={"pretrain": 320, "train": 160, "test": 160}, background_pool=4,
                                rotation_deg=(-15.0, 15.0)),
    # SEVERE-style stand-ins (Thoker 2023): evaluate an encoder pre-trained on `tiny` where the downstream data differs.
    # Domain shift: other sprite shapes (ring, star), flatter and noisier scenes, a shakier camera; no pre-train pool.
    "tiny_domain2": SynthConfig(name="tiny_domain2", size=64, num_frames=48, fps=16,
                                counts={"train": 160, "test": 160},
                                appearance_classes=("ring", "star", "disk", "square"), sprite_radius=(0.1, 0.13),
                                background_contrast=0.4, jitter_px=2, noise_std=5.0),
    # Fine-grained motion: four orbits that differ only in rotation sense and speed (no flip: see FINE_MOTIONS).
    "tiny_fine": SynthConfig(name="tiny_fine", size=64, num_frames=48, fps=16, counts={"train": 160, "test": 160},
                             motion_classes=tuple(FINE_MOTIONS), cycles=(0.75, 1.0)),
    # The upright physical world (docs/synthetic.md): gravity, bounces that lose energy, class-typical speeds,
    # sky and ground lit from above, clouds drifting at a steady speed (the pace cue), sprites within ±10° of upright;
    # 2,000 pre-training videos. world32 is the
    # default CPU benchmark (the demo and the studies); world48 and world64 are the same world at larger frames.
    **{f"world{size}": SynthConfig(name=f"world{size}", size=size, num_frames=48, fps=16,
                                   counts={"pretrain": 2000, "train": 800, "test": 400}, world=True,
                                   motion_classes=WORLD_CLASSES, appearance_classes=WORLD_SHAPES, sprite_radius=(0.18, 0.22),
                                   rotation_deg=(-10.0, 10.0), background_pool=16, jitter_px=size // 32,
                                   cloud_speed=CLOUD_SPEED)
       for size in (32, 48, 64)},
    # SEVERE-style stand-ins in the world family (Thoker 2023, Ch. 2): domain shift (two shapes never seen in
    # pre-training, flatter and noisier scenes, a shakier camera) and fine-grained motion (the same two actions,
    # told apart only by bounciness or throw height).
    "world32_domain2": SynthConfig(name="world32_domain2", size=32, num_frames=48, fps=16,
                                   counts={"train": 400, "test": 400}, world=True, motion_classes=WORLD_CLASSES,
                                   appearance_classes=("square", "star", "bar", "pillar"), sprite_radius=(0.18, 0.22),
                                   rotation_deg=(-10.0, 10.0), background_contrast=0.4, jitter_px=2, noise_std=5.0,
                                   cloud_speed=CLOUD_SPEED),
    "world32_fine": SynthConfig(name="world32_fine", size=32, num_frames=48, fps=16,
                                counts={"train": 400, "test": 400}, world=True, motion_classes=FINE_WORLD_MOTIONS,
                                appearance_classes=WORLD_SHAPES, sprite_radius=(0.18, 0.22), rotation_deg=(-10.0, 10.0), background_pool=16,
                                cloud_speed=CLOUD_SPEED),
    "small": SynthConfig(name="small", size=112, num_frames=64, fps=16,
                         counts={"pretrain": 2000, "train": 800, "test": 800}, jitter_px=2),
}


def resolve_config(preset: str | SynthConfig) -> SynthConfig:
    """A preset name or a ready SynthConfig -> SynthConfig; unknown names raise listing the valid ones."""
    if isinstance(preset, SynthConfig):
        return preset
    if preset not in PRESETS:
        raise ConfigError(f"unknown synthetic preset {preset!r} (valid: {', '.join(PRESETS)})")
    return PRESETS[preset]


# ---------------------------------------------------------------------------------------------------------------
# Rendering


def _sample_trajectory(config: SynthConfig, motion: str, radius: float, rng: np.random.Generator) -> np.ndarray:
    """World-space sprite centres [T, 2] (x, y). The first position is drawn before and independently of the motion
    class, so its distribution is the same for every class; only the trajectory parameters are resampled until the
    whole path stays inside the free area."""
    low, high = _free_area(config, radius)
    margin = config.start_margin * config.size
    start = rng.uniform(low + margin, high - margin, size=2)
    frames = np.arange(config.num_frames)
    for _ in range(MAX_TRAJECTORY_TRIES):
        amplitude = rng.uniform(*config.amplitude) * config.size
        angles = 2 * math.pi * rng.uniform(*config.cycles) * frames / config.num_frames
        path = start + amplitude * MOTIONS[motion](rng, angles)
        if path.min() >= low and path.max() <= high:
            return path
    raise ConfigError(f"SynthConfig '{config.name}': amplitude {config.amplitude} does not fit a '{motion}' "
                      f"trajectory in a {config.size}px frame; lower amplitude or start_margin")


def _upsample_bilinear(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a small square grid to [size, size]."""
    coords = np.linspace(0, grid.shape[0] - 1, size)
    index = np.minimum(coords.astype(int), grid.shape[0] - 2)
    frac = coords - index
    rows = grid[index] * (1 - frac)[:, None] + grid[index + 1] * frac[:, None]
    return rows[:, index] * (1 - frac)[None, :] + rows[:, index + 1] * frac[None, :]


def _background_pattern(rng: np.random.Generator, size: int, full_size: int) -> np.ndarray:
    """A [size, size] texture in 0..1: smooth value noise, soft stripes or a soft checkerboard, random scale/tilt."""
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    if kind == "noise":
        cells = int(rng.integers(3, 9))
        return _upsample_bilinear(rng.random((cells + 1, cells + 1)), size)
    tilt = rng.uniform(0, math.pi)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    u = x * math.cos(tilt) + y * math.sin(tilt)
    v = -x * math.sin(tilt) + y * math.cos(tilt)
    period = rng.uniform(0.2, 0.5) * full_size
    if kind == "stripes":
        return 0.5 + 0.5 * np.sin(2 * math.pi * u / period + rng.uniform(0, 2 * math.pi))
    return np.clip(0.5 + 2.0 * np.sin(2 * math.pi * u / period) * np.sin(2 * math.pi * v / period), 0, 1)


def _background(rng: np.random.Generator, size: int, full_size: int, contrast: float = 1.0) -> np.ndarray:
    """Textured RGB background [size, size, 3] in 0..1, blending two random muted colours.

    ``contrast`` scales the difference between the two colours (1 = as drawn, 0 = flat)."""
    colours = rng.uniform(0.1, 0.7, size=(2, 3))
    pattern = _background_pattern(rng, size, full_size)[..., None]
    return (colours[0] + contrast * pattern * (colours[1] - colours[0])).astype(np.float32)


BACKGROUND_POOL_SEED = 20_260_000  # the shared scenes depend on the config alone, not on the dataset seed


def _draw_background(config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """A background for one scene: drawn fresh, or picked from the pool of ``background_pool`` shared scenes."""
    size = config.size + 2 * config.jitter_px
    if config.background_pool == 0:
        return _background(rng, size, config.size, config.background_contrast)
    scene = int(rng.integers(config.background_pool))
    shared = np.random.default_rng(np.random.SeedSequence([BACKGROUND_POOL_SEED, scene]))
    return _background(shared, size, config.size, config.background_contrast)


def render_video(config: SynthConfig, motion: str, appearance: str, rng: np.random.Generator,
                 return_trajectory: bool = False):
    """Render one video as uint8 [T, H, W, 3]; with return_trajectory also the in-frame sprite centres [T, 2] (x, y).

    Pure: the output depends only on the arguments (the generator's state included)."""
    if motion not in config.motion_classes or appearance not in config.appearance_classes:
        raise VsslError(f"render_video: ({motion!r}, {appearance!r}) not in config '{config.name}' classes "
                        f"{config.motion_classes} x {config.appearance_classes}")
    if config.world:
        video, centres = render_world_video(config, motion, appearance, rng, BACKGROUND_POOL_SEED)
        return (video, centres) if return_trajectory else video
    size, jitter = config.size, config.jitter_px
    radius = rng.uniform(*config.sprite_radius) * size
    rotation = rng.uniform(math.radians(config.rotation_deg[0]), math.radians(config.rotation_deg[1]))
    colours = [sprite_colour(rng) for _ in range(config.scene_cuts + 1 if config.recolour_at_cuts else 1)]
    world = _sample_trajectory(config, motion, radius, rng)
    backgrounds = [_draw_background(config, rng) for _ in range(config.scene_cuts + 1)]
    shifts = rng.integers(-jitter, jitter + 1, size=(config.num_frames, 2))  # camera offset (x, y) per frame
    centres = world - shifts
    frames = np.empty((config.num_frames, size, size, 3), dtype=np.float32)
    for t, (sx, sy) in enumerate(shifts):
        scene = t * (config.scene_cuts + 1) // config.num_frames
        background, colour = backgrounds[scene], colours[scene if config.recolour_at_cuts else 0]
        frames[t] = background[jitter + sy: jitter + sy + size, jitter + sx: jitter + sx + size]
        paint_sprite(frames[t], appearance, centres[t], radius, rotation, colour)
    if config.noise_std > 0:
        frames += rng.standard_normal(frames.shape, dtype=np.float32) * np.float32(config.noise_std / 255)
    video = np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8)
    return (video, centres) if return_trajectory else video


# ITU-R BT.601 RGB -> Y'CbCr, limited ("tv") range: what decoders assume for untagged H.264 streams.
BT601_LIMITED = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]],
                         dtype=np.float32) / np.float32(255)
BT601_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float32)


def rgb_to_yuv420(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB [T, H, W, 3] -> yuv420p planes stacked as [T, H * 3 // 2, W]: Y, then Cb and Cr of 2x2 averages."""
    count, height, width, _ = frames.shape
    rgb = frames.astype(np.float32)
    luma = rgb @ BT601_LIMITED[0] + BT601_OFFSET[0]
    blocks = (rgb[:, ::2, ::2] + rgb[:, 1::2, ::2] + rgb[:, ::2, 1::2] + rgb[:, 1::2, 1::2]) * np.float32(0.25)
    chroma = blocks @ BT601_LIMITED[1:].T + BT601_OFFSET[1:]
    planes = [luma.reshape(count, -1), chroma[..., 0].reshape(count, -1), chroma[..., 1].reshape(count, -1)]
    stacked = np.concatenate(planes, axis=1).reshape(count, height * 3 // 2, width)
    return np.clip(np.round(stacked), 0, 255).astype(np.uint8)


def write_mp4(frames: np.ndarray, path, fps: float, crf: int = 20, x264_preset: str = "veryfast") -> None:
    """Encode uint8 RGB frames [T, H, W, 3] (even H, W) as H.264 yuv420p mp4, via a temporary file and a rename."""
    path = Path(path)
    with atomic_path(path) as partial, av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        # mbtree=0: with macroblock-tree rate control this libx264 build gave different bitstreams for the same
        # frames depending on what the process had encoded before; without it output is reproducible.
        stream.options = {"crf": str(crf), "preset": x264_preset, "x264-params": "mbtree=0"}
        stream.codec_context.thread_count = 1  # parallelism comes from the worker pool
        for planes in rgb_to_yuv420(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(planes, format="yuv420p")))
        container.mux(stream.encode())


# ---------------------------------------------------------------------------------------------------------------
# Dataset generation


def _split_code(split: str) -> int:
    return zlib.crc32(split.encode())


def balanced_labels(config: SynthConfig, split: str, seed: int) -> list[tuple[str, str]]:
    """(motion, appearance) per video of a split: every pair equally often (+-1), in a seeded random order."""
    pairs = [(m, a) for m in config.motion_classes for a in config.appearance_classes]
    count = config.counts[split]
    rng = np.random.default_rng(np.random.SeedSequence([seed, _split_code(split)]))
    indices = np.concatenate([np.tile(np.arange(len(pairs)), count // len(pairs)),
                              rng.choice(len(pairs), count % len(pairs), replace=False)])
    return [pairs[i] for i in rng.permutation(indices)]


def _make_video(job: tuple) -> str:
    """Render and write one video; its generator is seeded from (seed, split, index) alone."""
    config, seed, split, index, motion, appearance, path = job
    rng = np.random.default_rng(np.random.SeedSequence([seed, _split_code(split), index]))
    write_mp4(render_video(config, motion, appearance, rng), path, config.fps, config.crf, config.x264_preset)
    return path


def _clear_previous_output(out_dir: Path, videos_dir: Path):
    """Remove what an earlier generation wrote (manifest first, so no manifest ever points at missing videos)."""
    for name in ("manifest.csv", "synth.json", "manifest.dataset.json"):
        (out_dir / name).unlink(missing_ok=True)
    for pattern in ("*.mp4", ".*.tmp"):
        for old in videos_dir.glob(pattern):
            old.unlink()


def _summary(config: SynthConfig, seed: int, samples: list[Sample]) -> dict:
    splits = {}
    for split in config.counts:
        in_split = [s for s in samples if s.split == split]
        splits[split] = {"count": len(in_split),
                         **{key: dict(sorted(Counter(s.labels[key] for s in in_split).items()))
                            for key in ("motion", "appearance")}}
    return {"preset": config.name, "seed": seed, "config": asdict(config),
            "classes": {"motion": list(config.motion_classes), "appearance": list(config.appearance_classes)},
            "splits": splits}


def generate(out_dir, preset: str | SynthConfig = "tiny", seed: int = 0, workers: int | None = None,
             progress: bool = True) -> Path:
    """Generate a synthetic benchmark into out_dir (videos/, synth.json, manifest.csv); returns the manifest path.

    The output depends only on (preset, seed): never on the worker count. Files an earlier generation wrote there
    (manifest.csv, synth.json, videos/*.mp4) are replaced; the manifest is written last."""
    config = resolve_config(preset)
    if not isinstance(seed, int) or seed < 0:
        raise VsslError(f"synthetic seed must be a non-negative integer, got {seed!r}")
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise VsslError(f"synthetic workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    videos_dir = out_dir / "videos"
    videos_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous_output(out_dir, videos_dir)

    samples, jobs = [], []
    for split in config.counts:
        for index, (motion, appearance) in enumerate(balanced_labels(config, split, seed)):
            path = str(videos_dir / f"{split}_{index:05d}.mp4")
            samples.append(Sample(path=path, split=split, labels={"motion": motion, "appearance": appearance}))
            jobs.append((config, seed, split, index, motion, appearance, path))

    with tqdm(total=len(jobs), desc=f"synth {config.name}", unit="video", disable=not progress) as bar:
        if workers == 1:
            for job in jobs:
                _make_video(job)
                bar.update()
        else:
            # spawn: safe even when the caller has threads running (e.g. torch); a pool that cannot start its
            # workers raises BrokenProcessPool instead of hanging.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for _ in pool.map(_make_video, jobs, chunksize=8):
                    bar.update()

    write_json_atomic(out_dir / "synth.json", _summary(config, seed, samples), trailing_newline=True)
    manifest_path = out_dir / "manifest.csv"
    flip_safe = not set(config.motion_classes) & set(FINE_MOTIONS)
    write_dataset_info(DatasetInfo("synthetic", {"motion": list(config.motion_classes),
                                                 "appearance": list(config.appearance_classes)},
                                   horizontal_flip=flip_safe, options={"preset": config.name, "seed": str(seed)},
                                   splits=dict(config.counts), train_split="train", test_split="test"),
                       manifest_path)
    write_manifest(samples, manifest_path)
    return manifest_path
