"""The upright physical world of the `world*` synthetic benchmarks: sky and ground lit from above, clouds drifting at
a steady speed, sprites that fall, bounce, slide and float with class-typical speeds and an arrow of time
(docs/synthetic.md)."""

from __future__ import annotations

import colorsys
import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from vssl.data.synthetic_sprites import paint_sprite, sprite_colour

if TYPE_CHECKING:
    from vssl.data.synthetic import SynthConfig

# ---------------------------------------------------------------------------------------------------------------
# Physics, in units of the frame size S and of frames. Every speed is class-typical: a video draws it within
# ±config.speed_jitter of the constant below, which keeps a video's own speed well inside the factor 2 between
# neighbouring paces of pace prediction (Wang 2020, Ch. 4) and playback-rate perception.

GRAVITY = 0.0035  # S / frame²: a drop of 0.3 S takes 13 frames (0.8 s at 16 fps)
RESTITUTION = (0.55, 0.7)  # bounce keeps this fraction of the speed: the arrow of time (energy is lost)
REST_SPEED = 0.004  # S / frame: a bounce slower than this ends in rest on the ground
TOSS_SPEED = 0.035  # S / frame, upward: rises 0.175 S before falling back
TOSS_DRIFT = 0.008  # S / frame sideways, away from the nearer edge: a thrown sprite travels in an arc
SLIDE_SPEED = 0.018  # S / frame at the start, decelerating evenly (friction) ...
SLIDE_STOP_FRAMES = 40  # ... to rest after this many frames: travels 0.36 S
SLIDE_SINK = 0.004  # S / frame: a slider also sinks slowly until it rests on the ground
FLOAT_SPEED = 0.008  # S / frame, upward terminal speed of a floater (a balloon) ...
FLOAT_TIME_CONSTANT = 8.0  # ... reached with this time constant (frames), from rest
FLOAT_SWAY = (0.03, 24.0)  # sideways sway of a floater: amplitude (S) and period (frames)
SUBSTEPS = 8  # integration steps per frame

# Fine-grained variants (the `world*_fine` presets): the same two actions, told apart only by their dynamics.
FINE_RESTITUTION = {"drop_bouncy": (0.75, 0.8), "drop_dead": (0.3, 0.35)}
FINE_TOSS_SPEED = {"toss_high": 0.04, "toss_low": 0.025}

# Scene layout (fractions of S)
GROUND_LEVEL = (0.82, 0.88)  # horizon height per scene
START_BOX_X = (0.3, 0.7)  # first-frame sprite centre, the same box for every motion class
START_BOX_Y = (0.3, 0.5)
SHADOW_DARKNESS = 0.45  # shadow opacity when the sprite touches the ground, fading with height
SHADOW_FADE = 0.4  # S: height at which the shadow is 1/e as dark
TOP_LIGHT = 0.2  # sprites are this much brighter at the top and darker at the bottom
SHAKE_STEP_P = 0.25  # chance per frame and axis that the hand-held camera drifts by one pixel

# Clouds: the steady motion a pace must be read from. The sprite cannot serve: a drop accelerates, a slide decelerates
# and everything comes to rest, so its speed within one pace varies more than between paces (calibration.md). Wind
# moves clouds at one speed (± speed_jitter per video, either way), like the steady motions of real footage.
CLOUD_SPEED = 0.03  # S / frame: 0.96 px at 32², so paces 1-4 shift them 1 / 1.9 / 2.9 / 3.8 px per sampled frame
CLOUD_PERIOD = 0.5  # S: the cloud row repeats every half frame, so where the clouds are says nothing about when a
#                     clip was taken: 16 frames apart (VCOP's clips) they have moved about one period. No order shortcut
CLOUDS_PER_PERIOD = 2
CLOUD_HEIGHT = (0.08, 0.4)  # S: centre heights, in the sky above the ground
CLOUD_SIGMA = (0.09, 0.05)  # S: Gaussian puffs, wider (x) than high (y)
CLOUD_OPACITY = (0.6, 0.9)
CLOUD_GREY = 0.35  # grey rain clouds: white ones vanish against a sky this bright (contrast < 0.1)


class Stage(NamedTuple):
    """Where a sprite moves: its first position, the centre heights of resting on the ground and of touching the
    top of the frame, and the frame size (pixels)."""

    start: tuple[float, float]
    ground: float
    ceiling: float
    size: int


def _fall(stage: Stage, vx: float, vy: float, gravity: float, restitution: float, frames: int,
          friction: float = 0.0) -> np.ndarray:
    """Free flight under gravity with bounces that keep ``restitution`` of the speed, then rest on the ground
    (sliding to a stop under ``friction``); positions [T, 2]."""
    (x, y), rest_speed = stage.start, REST_SPEED * stage.size
    path = np.empty((frames, 2))
    resting = False
    dt = 1.0 / SUBSTEPS
    for t in range(frames):
        path[t] = x, y
        for _ in range(SUBSTEPS):
            if resting:
                vx = math.copysign(max(abs(vx) - friction * dt, 0.0), vx)
            else:
                vy += gravity * dt
            x, y = x + vx * dt, y + vy * dt
            if y >= stage.ground and not resting:
                y, vy = stage.ground, -restitution * vy
                if abs(vy) < rest_speed:
                    vy, resting = 0.0, True
    return path


def _drop(rng, stage: Stage, jitter: float, frames: int, restitution=RESTITUTION) -> np.ndarray:
    """Released from rest: falls, bounces lower and lower, and comes to rest on the ground."""
    gravity = GRAVITY * stage.size * rng.uniform(1 - jitter, 1 + jitter)
    return _fall(stage, 0.0, 0.0, gravity, rng.uniform(*restitution), frames)


def _toss(rng, stage: Stage, jitter: float, frames: int, speed=TOSS_SPEED) -> np.ndarray:
    """Thrown up and sideways: rises slower and slower, falls back in an arc, bounces and slides to rest."""
    scale = rng.uniform(1 - jitter, 1 + jitter)
    vx = (1.0 if stage.start[0] < stage.size / 2 else -1.0) * TOSS_DRIFT * stage.size * scale
    gravity = GRAVITY * stage.size * scale
    return _fall(stage, vx, -speed * stage.size * scale, gravity, rng.uniform(*RESTITUTION), frames,
                 friction=abs(vx) / 8)  # slides to rest in 8 frames


def _slide(rng, stage: Stage, jitter: float, frames: int) -> np.ndarray:
    """Moves sideways away from the nearer edge, decelerating evenly to rest, while sinking slowly to the ground."""
    scale = rng.uniform(1 - jitter, 1 + jitter)
    (x0, y0), size = stage.start, stage.size
    direction = 1.0 if x0 < size / 2 else -1.0
    stop = SLIDE_STOP_FRAMES / scale
    t = np.arange(frames, dtype=np.float64)
    moving = np.minimum(t, stop)
    x = x0 + direction * SLIDE_SPEED * size * scale * (moving - moving**2 / (2 * stop))
    y = np.minimum(y0 + SLIDE_SINK * size * scale * t, stage.ground)
    return np.stack([x, y], axis=1)


def _float(rng, stage: Stage, jitter: float, frames: int) -> np.ndarray:
    """A balloon: released from rest it accelerates upwards to a terminal speed, swaying, until it meets the top."""
    scale = rng.uniform(1 - jitter, 1 + jitter)
    (x0, y0), size = stage.start, stage.size
    side = rng.choice((-1.0, 1.0))
    t = np.arange(frames, dtype=np.float64)
    rise = FLOAT_SPEED * size * scale * (t - FLOAT_TIME_CONSTANT * (1 - np.exp(-t / FLOAT_TIME_CONSTANT)))
    x = x0 + side * FLOAT_SWAY[0] * size * np.sin(2 * math.pi * t * scale / FLOAT_SWAY[1])
    return np.stack([x, np.maximum(y0 - rise, stage.ceiling)], axis=1)


WORLD_MOTIONS = {
    "drop": _drop,
    "toss": _toss,
    "slide": _slide,
    "float": _float,
    "drop_bouncy": lambda *a: _drop(*a, restitution=FINE_RESTITUTION["drop_bouncy"]),
    "drop_dead": lambda *a: _drop(*a, restitution=FINE_RESTITUTION["drop_dead"]),
    "toss_high": lambda *a: _toss(*a, speed=FINE_TOSS_SPEED["toss_high"]),
    "toss_low": lambda *a: _toss(*a, speed=FINE_TOSS_SPEED["toss_low"]),
}
FINE_WORLD_MOTIONS = ("drop_bouncy", "drop_dead", "toss_high", "toss_low")


# ---------------------------------------------------------------------------------------------------------------
# Scenes


def _value_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth random texture in 0..1, [height, width]."""
    grid = rng.random((cells + 1, cells + 1))
    ys, xs = np.linspace(0, cells, height), np.linspace(0, cells, width)
    iy, ix = np.minimum(ys.astype(int), cells - 1), np.minimum(xs.astype(int), cells - 1)
    fy, fx = (ys - iy)[:, None], (xs - ix)[None, :]
    top = grid[iy][:, ix] * (1 - fx) + grid[iy][:, ix + 1] * fx
    bottom = grid[iy + 1][:, ix] * (1 - fx) + grid[iy + 1][:, ix + 1] * fx
    return top * (1 - fy) + bottom * fy


def _muted(rng: np.random.Generator, saturation, value) -> np.ndarray:
    return np.asarray(colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value)))


def draw_scene(rng: np.random.Generator, size: int, margin: int, contrast: float) -> tuple[np.ndarray, float]:
    """(RGB scene [size+2m, size+2m, 3] in 0..1, horizon row in frame coordinates): a sky that is brightest at the
    top (light from above) over a darker textured ground."""
    full = size + 2 * margin
    horizon = rng.uniform(*GROUND_LEVEL) * size
    rows = np.arange(full, dtype=np.float64)[:, None] - margin
    sky_top = _muted(rng, (0.1, 0.4), (0.75, 0.95))
    sky = sky_top[None, None, :] * (1 - 0.35 * np.clip(rows / horizon, 0, 1))[..., None]
    sky = np.broadcast_to(sky, (full, full, 3))
    dark, light = _muted(rng, (0.2, 0.5), (0.15, 0.3)), _muted(rng, (0.2, 0.5), (0.35, 0.5))
    texture = _value_noise(rng, full, full, int(rng.integers(4, 10)))[..., None]
    ground = dark + contrast * texture * (light - dark)
    scene = np.where((rows >= horizon)[..., None], ground, sky)
    return scene.astype(np.float32), horizon


def _paint_shadow(frame: np.ndarray, x: float, horizon: float, radius: float, height: float, size: int):
    """A soft dark ellipse on the ground under the sprite, fainter the higher the sprite."""
    opacity = SHADOW_DARKNESS * math.exp(-max(height, 0.0) / (SHADOW_FADE * size))
    half_w, half_h = 1.1 * radius, 0.3 * radius
    cy = horizon + half_h
    x0, x1 = max(math.floor(x - half_w), 0), min(math.ceil(x + half_w) + 1, frame.shape[1])
    y0, y1 = max(math.floor(cy - half_h), 0), min(math.ceil(cy + half_h) + 1, frame.shape[0])
    dx = (np.arange(x0, x1)[None, :] - x) / half_w
    dy = (np.arange(y0, y1)[:, None] - cy) / half_h
    alpha = np.clip(1.0 - (dx * dx + dy * dy), 0.0, 1.0)[..., None] * opacity
    frame[y0:y1, x0:x1] *= 1 - alpha


def _scene_for_video(config: SynthConfig, rng: np.random.Generator, pool_seed: int):
    """A fresh scene, or one of the ``background_pool`` scenes shared by all videos (seeded by the config alone)."""
    if config.background_pool == 0:
        return draw_scene(rng, config.size, config.jitter_px, config.background_contrast)
    scene = int(rng.integers(config.background_pool))
    shared = np.random.default_rng(np.random.SeedSequence([pool_seed, scene]))
    return draw_scene(shared, config.size, config.jitter_px, config.background_contrast)


def camera_shake(rng: np.random.Generator, frames: int, reach: int) -> np.ndarray:
    """Whole-frame offsets [T, 2] (x, y) of a hand-held camera: a random walk that moves one pixel on SHAKE_STEP_P of
    the frames and stays within ±reach. Drawn i.i.d. per frame instead, ±1 px jumps would be as large as a 32²
    sprite's own motion of about 0.5 px per frame."""
    offsets = np.zeros((frames, 2), dtype=np.int64)
    steps = rng.integers(-1, 2, size=(frames, 2)) * (rng.random((frames, 2)) < SHAKE_STEP_P)
    for t in range(1, frames):
        offsets[t] = np.clip(offsets[t - 1] + steps[t], -reach, reach)
    return offsets


def cloud_cover(config: SynthConfig, rng: np.random.Generator, horizon: float) -> np.ndarray:
    """Opacity [T, size+2m, size+2m] of grey clouds over the sky of a scene with the camera margin m, drifting
    sideways at config.cloud_speed (± speed_jitter) in a random direction and wrapping round every CLOUD_PERIOD."""
    size, margin, frames = config.size, config.jitter_px, config.num_frames
    full = size + 2 * margin
    period = CLOUD_PERIOD * size
    direction = rng.choice((-1.0, 1.0))
    speed = config.cloud_speed * size * rng.uniform(1 - config.speed_jitter, 1 + config.speed_jitter)
    centre_x = rng.uniform(0, period, CLOUDS_PER_PERIOD)
    centre_y = rng.uniform(*CLOUD_HEIGHT, CLOUDS_PER_PERIOD) * size + margin
    opacity = rng.uniform(*CLOUD_OPACITY, CLOUDS_PER_PERIOD)
    sigma_x, sigma_y = CLOUD_SIGMA[0] * size, CLOUD_SIGMA[1] * size
    xs = np.arange(full, dtype=np.float64)
    ys = np.arange(full, dtype=np.float64)
    shift = direction * speed * np.arange(frames, dtype=np.float64)
    cover = np.zeros((frames, full, full))
    for cx, cy, alpha in zip(centre_x, centre_y, opacity):
        dx = (xs[None, :] - cx - shift[:, None] + period / 2) % period - period / 2  # [T, W], nearest copy
        puff_x = sum(np.exp(-0.5 * ((dx + k * period) / sigma_x) ** 2) for k in (-1, 0, 1))  # and its neighbours
        puff_y = np.exp(-0.5 * ((ys - cy) / sigma_y) ** 2) * (ys - margin < horizon)  # [H], sky only
        cover = np.maximum(cover, alpha * puff_y[None, :, None] * puff_x[:, None, :])
    return np.minimum(cover, 1.0).astype(np.float32)


def world_trajectory(config: SynthConfig, motion: str, radius: float, horizon: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Sprite centres [T, 2] (x, y) in scene coordinates. The first position is drawn from the same box for every
    motion class before the class's own parameters, so it says nothing about the class."""
    size = config.size
    start = (rng.uniform(*START_BOX_X) * size, rng.uniform(*START_BOX_Y) * size)
    stage = Stage(start, ground=horizon - radius, ceiling=radius, size=size)
    return WORLD_MOTIONS[motion](rng, stage, config.speed_jitter, config.num_frames)


class WorldLayout(NamedTuple):
    """What a world video is painted from: the sprite's size, orientation and colour, the scene [S+2m, S+2m, 3] and
    its horizon row, the sprite centres [T, 2] in scene coordinates, the camera offsets [T, 2] (x, y) and the cloud
    opacity [T, S+2m, S+2m, 1] (None under a clear sky)."""

    radius: float
    rotation: float
    colour: np.ndarray
    scene: np.ndarray
    horizon: float
    world: np.ndarray
    shifts: np.ndarray
    clouds: np.ndarray | None

    @property
    def centres(self) -> np.ndarray:
        """In-frame sprite centres [T, 2]."""
        return self.world - self.shifts


def draw_world_layout(config: SynthConfig, motion: str, rng: np.random.Generator, pool_seed: int) -> WorldLayout:
    """Every random draw of a world video but its pixel noise, in the order the benchmark has always drawn them."""
    radius = rng.uniform(*config.sprite_radius) * config.size
    rotation = rng.uniform(math.radians(config.rotation_deg[0]), math.radians(config.rotation_deg[1]))
    colour = sprite_colour(rng)
    scene, horizon = _scene_for_video(config, rng, pool_seed)
    world = world_trajectory(config, motion, radius, horizon, rng)
    shifts = camera_shake(rng, config.num_frames, config.jitter_px)
    clouds = cloud_cover(config, rng, horizon)[..., None] if config.cloud_speed else None
    return WorldLayout(radius, rotation, colour, scene, horizon, world, shifts, clouds)


def paint_world_video(config: SynthConfig, layout: WorldLayout, appearance: str,
                      rng: np.random.Generator) -> np.ndarray:
    """The frames of ``layout`` as uint8 [T, H, W, 3], pixel noise drawn from ``rng``."""
    size, jitter, clouds = config.size, config.jitter_px, layout.clouds
    centres = layout.centres
    frames = np.empty((config.num_frames, size, size, 3), dtype=np.float32)
    for t, (sx, sy) in enumerate(layout.shifts):
        window = np.s_[jitter + sy: jitter + sy + size, jitter + sx: jitter + sx + size]
        scene = layout.scene[window]
        frames[t] = scene if clouds is None else scene + clouds[t][window] * (CLOUD_GREY - scene)
        height = layout.horizon - layout.radius - layout.world[t, 1]
        _paint_shadow(frames[t], centres[t, 0], layout.horizon - sy, layout.radius, height, size)
        paint_sprite(frames[t], appearance, centres[t], layout.radius, layout.rotation, layout.colour,
                     top_light=TOP_LIGHT)
    if config.noise_std > 0:
        frames += rng.standard_normal(frames.shape, dtype=np.float32) * np.float32(config.noise_std / 255)
    return np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8)


def render_world_video(config: SynthConfig, motion: str, appearance: str, rng: np.random.Generator,
                       pool_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One video as uint8 [T, H, W, 3] and its in-frame sprite centres [T, 2]."""
    layout = draw_world_layout(config, motion, rng, pool_seed)
    return paint_world_video(config, layout, appearance, rng), layout.centres
