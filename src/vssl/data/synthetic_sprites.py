"""Sprites of the synthetic benchmarks: equal-area shapes (the appearance classes), anti-aliased and alpha-blended."""

from __future__ import annotations

import colorsys
import math

import numpy as np

# ---------------------------------------------------------------------------------------------------------------
# Sprite shapes (appearance classes). Each is an "inside" test in units where a disk of the same area has radius 1,
# so every shape covers pi * radius**2 pixels: sprite size says nothing about the shape.

SQUARE_HALF_SIDE = math.sqrt(math.pi) / 2  # (2a)^2 = pi
TRIANGLE_CIRCUMRADIUS = math.sqrt(math.pi / (3 * math.sqrt(3) / 4))  # equilateral: area = 3*sqrt(3)/4 * R^2
CROSS_HALF_LENGTH = math.sqrt(9 * math.pi / 20)  # plus sign, arm half-width = half-length / 3: area = 20/9 * L^2
RING_INNER_FRACTION = 0.6  # inner radius / outer radius
RING_OUTER_RADIUS = 1 / math.sqrt(1 - RING_INNER_FRACTION**2)  # area = pi * (1 - k^2) * R^2
STAR_INNER_FRACTION = 0.45  # five points; inner vertex radius / tip radius (a regular pentagram has 0.382)
STAR_OUTER_RADIUS = math.sqrt(math.pi / (5 * STAR_INNER_FRACTION * math.sin(math.pi / 5)))  # area = 5 rho sin36 R^2


def _disk(u, v):
    return u * u + v * v <= 1.0


def _square(u, v):
    return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE


def _triangle(u, v):
    """Equilateral triangle with one vertex pointing up (-v): inside all three edges at the inradius R/2."""
    inside = np.ones(np.broadcast_shapes(np.shape(u), np.shape(v)), dtype=bool)
    for normal_angle in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3):
        inside &= u * math.cos(normal_angle) + v * math.sin(normal_angle) <= TRIANGLE_CIRCUMRADIUS / 2
    return inside


def _cross(u, v):
    abs_u, abs_v = np.abs(u), np.abs(v)
    half_width = CROSS_HALF_LENGTH / 3
    return (((abs_u <= CROSS_HALF_LENGTH) & (abs_v <= half_width))
            | ((abs_v <= CROSS_HALF_LENGTH) & (abs_u <= half_width)))


def _ring(u, v):
    squared = u * u + v * v
    return (squared <= RING_OUTER_RADIUS**2) & (squared >= (RING_INNER_FRACTION * RING_OUTER_RADIUS) ** 2)


def _star(u, v):
    """Five-pointed star, one tip up: fold the angle into the half-sector [0, 36 deg] next to a tip, then test
    which side of the tip-to-inner-vertex edge the point lies on."""
    sector = 2 * math.pi / 5
    angle = np.mod(np.arctan2(v, u) + math.pi / 2, sector)
    angle = np.minimum(angle, sector - angle)
    distance = np.sqrt(u * u + v * v)
    qx, qy = distance * np.cos(angle), distance * np.sin(angle)
    tip = STAR_OUTER_RADIUS
    inner_x = STAR_INNER_FRACTION * tip * math.cos(sector / 2)
    inner_y = STAR_INNER_FRACTION * tip * math.sin(sector / 2)
    return (inner_x - tip) * qy - inner_y * (qx - tip) >= 0


BAR_HALF_LENGTH = math.sqrt(3 * math.pi / 4)  # 3:1 bar, half-width = half-length / 3: area = 4/3 * L^2 = pi


def _bar(u, v):
    """A lying 3:1 bar (long side horizontal when upright)."""
    return (np.abs(u) <= BAR_HALF_LENGTH) & (np.abs(v) <= BAR_HALF_LENGTH / 3)


def _pillar(u, v):
    """A standing 3:1 bar (long side vertical when upright)."""
    return _bar(v, u)


SHAPES = {"disk": _disk, "square": _square, "triangle": _triangle, "cross": _cross, "ring": _ring, "star": _star,
          "bar": _bar, "pillar": _pillar}
# Farthest any shape reaches from its centre, in equal-area-disk radii (the triangle's circumradius).
SHAPE_EXTENT = max(1.0, SQUARE_HALF_SIDE * math.sqrt(2), TRIANGLE_CIRCUMRADIUS,
                   math.hypot(CROSS_HALF_LENGTH, CROSS_HALF_LENGTH / 3), RING_OUTER_RADIUS, STAR_OUTER_RADIUS)
SUBPIXEL_OFFSETS = (-0.25, 0.25)  # 2x2 supersampling for anti-aliased edges


def sprite_coverage(shape: str, dx, dy, radius: float, rotation: float = 0.0) -> np.ndarray:
    """Fraction (0..1) of each pixel covered by a sprite; dx, dy: pixel-centre offsets from the sprite centre."""
    inside = SHAPES[shape]
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    coverage = 0.0
    for oy in SUBPIXEL_OFFSETS:
        for ox in SUBPIXEL_OFFSETS:
            x, y = np.asarray(dx) + ox, np.asarray(dy) + oy
            coverage = coverage + inside((cos_r * x + sin_r * y) / radius, (-sin_r * x + cos_r * y) / radius)
    return np.asarray(coverage, dtype=np.float32) / len(SUBPIXEL_OFFSETS) ** 2


def sprite_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated, bright colour that stands out from the muted backgrounds."""
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.0))
    return np.asarray(rgb, dtype=np.float32)


def paint_sprite(frame: np.ndarray, shape: str, centre, radius: float, rotation: float, colour: np.ndarray,
                 top_light: float = 0.0):
    """Alpha-blend one anti-aliased sprite into a float frame [H, W, 3], touching only its bounding box.

    ``top_light`` > 0 shades it as lit from above: brighter by that fraction at its top, darker at its bottom."""
    half = math.ceil(SHAPE_EXTENT * radius) + 1
    cx, cy = centre
    x0, y0 = max(math.floor(cx) - half, 0), max(math.floor(cy) - half, 0)
    x1, y1 = min(math.floor(cx) + half + 2, frame.shape[1]), min(math.floor(cy) + half + 2, frame.shape[0])
    dx = np.arange(x0, x1)[None, :] - cx
    dy = np.arange(y0, y1)[:, None] - cy
    alpha = sprite_coverage(shape, dx, dy, radius, rotation)[..., None]
    if top_light:
        shade = 1.0 - top_light * np.clip(dy / (SHAPE_EXTENT * radius), -1.0, 1.0)
        colour = np.clip(colour * shade[..., None], 0.0, 1.0).astype(np.float32)
    patch = frame[y0:y1, x0:x1]
    patch += alpha * (colour - patch)


