"""The upright physical world of the `world*` benchmarks: bounce physics, the arrow of time, class-typical speeds,
light from above, steadily drifting clouds, and motion that no single first frame reveals."""

import dataclasses
import math

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from vssl.core.errors import ConfigError
from vssl.data import synthetic_world as world
from vssl.data.synthetic import PRESETS, balanced_labels, render_video

WORLD = PRESETS["world32"]
STEADY = dataclasses.replace(WORLD, jitter_px=0, noise_std=0.0, cloud_speed=0.0)  # the sprite alone: no shake, noise, clouds


def test_a_drop_falls_in_the_free_fall_time_and_bounces_to_e_squared_of_its_height():
    # From rest 100 px above the ground with g = 0.5 px/frame²: impact after sqrt(2h/g) = 20 frames at speed
    # g·t = 10 px/frame; restitution 0.5 sends it back up at 5 px/frame, so it climbs 5²/(2g) = 25 px = e²·h,
    # reaching the top 10 frames after the impact.
    stage = world.Stage(start=(50.0, 0.0), ground=100.0, ceiling=0.0, size=100)  # rests below 0.4 px/frame
    path = world._fall(stage, vx=0.0, vy=0.0, gravity=0.5, restitution=0.5, frames=60)
    y = path[:, 1]
    assert np.all(path[:, 0] == 50.0)
    assert y[10] == pytest.approx(0.5 * 0.5 * 10**2, abs=0.5)  # h = g t² / 2 before the impact
    assert int(np.argmax(y >= 99.5)) == 20  # first frame on the ground
    top_after_bounce = y[20:40].min()
    assert 100.0 - top_after_bounce == pytest.approx(25.0, abs=1.0)
    assert 20 + int(np.argmin(y[20:40])) == 30
    # the next bounce reaches e² of that again (6.25 px), and the third one e⁴
    second_impact = 20 + 20  # flight time 2·5/g = 20 frames
    assert 100.0 - y[second_impact:second_impact + 10].min() == pytest.approx(6.25, abs=0.6)


def test_a_bounce_slower_than_the_rest_speed_ends_at_rest_on_the_ground():
    stage = world.Stage(start=(10.0, 95.0), ground=100.0, ceiling=0.0, size=32)
    path = world._fall(stage, vx=0.0, vy=0.0, gravity=0.01, restitution=0.3, frames=200)
    assert np.all(path[-50:, 1] == 100.0)


def motion_energy(video: np.ndarray) -> np.ndarray:
    """Mean absolute change between consecutive frames: a frame statistic, no trajectory needed."""
    return np.abs(np.diff(video.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))


@pytest.mark.parametrize("motion", ["drop", "toss", "slide"])
def test_the_arrow_of_time_shows_in_frame_statistics(motion):
    """Energy is lost (bounces, friction): the last quarter of a video changes less per frame than the three before
    it, in almost every video, so a clip played backwards is told apart from frame differences alone."""
    calmer_at_the_end = 0
    for i in range(20):
        energy = motion_energy(render_video(STEADY, motion, "disk", np.random.default_rng(i)))
        quarter = len(energy) // 4
        calmer_at_the_end += energy[-quarter:].mean() < energy[:-quarter].mean()
    assert calmer_at_the_end >= 18


def test_a_floater_accelerates_upwards_until_it_meets_the_top():
    _, path = render_video(STEADY, "float", "disk", np.random.default_rng(3), return_trajectory=True)
    rise = -np.diff(path[:, 1])
    assert rise[:5].mean() < rise[10:15].mean()  # speeds up from rest
    assert path[-1, 1] < path[0, 1] - 0.1 * STEADY.size


def trajectories(config, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    paths, labels = [], []
    for label, motion in enumerate(config.motion_classes):
        for i in range(per_class):
            rng = np.random.default_rng([label, i])
            paths.append(render_video(config, motion, "disk", rng, return_trajectory=True)[1])
            labels.append(label)
    return np.stack(paths), np.array(labels)


def test_motion_is_not_predictable_from_the_first_frame_but_is_from_the_trajectory():
    paths, labels = trajectories(STEADY, per_class=80)
    knn = KNeighborsClassifier(n_neighbors=15)
    first = cross_val_score(knn, paths[:, 0], labels, cv=5).mean()
    velocities = np.diff(paths, axis=1).reshape(len(paths), -1)
    moving = cross_val_score(knn, velocities, labels, cv=5).mean()
    assert first < 0.35  # chance 0.25: the first position is drawn from one box for every class
    assert moving > 0.9


def test_speeds_are_class_typical_within_the_jitter():
    """The fall of every drop follows g·t²/2 with g within ±speed_jitter of GRAVITY: far less than the factor 2
    between neighbouring paces."""
    gravities = []
    for i in range(30):
        _, path = render_video(STEADY, "drop", "disk", np.random.default_rng(100 + i), return_trajectory=True)
        t = np.arange(6)
        drop = path[:6, 1] - path[0, 1]
        gravities.append(2 * np.polyfit(t, drop, 2)[0] / STEADY.size)
    ratio = np.array(gravities) / world.GRAVITY
    assert ratio.min() >= 1 - STEADY.speed_jitter - 0.02 and ratio.max() <= 1 + STEADY.speed_jitter + 0.02
    assert ratio.max() / ratio.min() < 1.5


def cloud_phase(cover: np.ndarray, period: int) -> np.ndarray:
    """Position (px, modulo the period) of a cloud row [T, H, W] from its first Fourier harmonic along x, read over
    whole periods: exact for a shifted periodic pattern without higher harmonics, to 1e-5 px for one Gaussian puff."""
    width = cover.shape[2] // period * period
    harmonic = (cover[:, :, :width] * np.exp(-2j * np.pi * np.arange(width) / period)).sum(axis=(1, 2))
    return -np.angle(harmonic) * period / (2 * np.pi)


def test_clouds_drift_at_one_steady_class_independent_speed_in_the_sky_only(monkeypatch):
    """Every frame moves the clouds by the same distance, within ±speed_jitter of CLOUD_SPEED, either way. One puff
    per period, so that the first harmonic reads its position exactly (two overlapping puffs add harmonics)."""
    monkeypatch.setattr(world, "CLOUDS_PER_PERIOD", 1)
    period, speeds = int(world.CLOUD_PERIOD * WORLD.size), []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        cover = world.cloud_cover(WORLD, rng, horizon=27.0)
        assert cover[:, 27 + WORLD.jitter_px + 1:].max() == 0.0  # nothing below the horizon
        step = np.diff(np.unwrap(cloud_phase(cover, period), period=period))
        np.testing.assert_allclose(step, step.mean(), atol=1e-5)  # steady: no acceleration, no rest
        speeds.append(step.mean() / (world.CLOUD_SPEED * WORLD.size))
    speeds = np.array(speeds)
    assert (np.abs(speeds) >= 1 - WORLD.speed_jitter - 1e-5).all()
    assert (np.abs(speeds) <= 1 + WORLD.speed_jitter + 1e-5).all()
    assert (speeds > 0).any() and (speeds < 0).any()  # the wind blows either way: no arrow of time in the sky


def test_a_clip_pace_is_read_from_the_cloud_drift_alone():
    """An oracle that measures how far the clouds move per sampled frame names the pace (1-4) of every clip. The
    sprite could not serve (an oracle on its exact speed named 46 %: calibration.md), so this is the pace cue."""
    period, paces, named = int(world.CLOUD_PERIOD * WORLD.size), (1, 2, 3, 4), []
    for seed in range(100):
        cover = world.cloud_cover(WORLD, np.random.default_rng(seed), horizon=27.0)
        pace = paces[seed % 4]
        clip = cover[np.arange(8) * pace]
        step = np.abs(np.diff(np.unwrap(cloud_phase(clip, period), period=period))).mean()
        named.append(int(np.clip(np.round(step / (world.CLOUD_SPEED * WORLD.size)), 1, 4)) == pace)
    assert all(named)


def test_the_world_is_lit_from_above_and_sprites_are_near_upright():
    for seed in range(10):
        scene, horizon = world.draw_scene(np.random.default_rng(seed), 32, 0, 1.0)
        sky, ground = scene[: int(horizon)].mean(), scene[int(horizon) + 1:].mean()
        assert sky > ground + 0.15
        assert scene[0].mean() > scene[int(horizon) - 1].mean()  # the sky is brightest at the top
    frame = np.zeros((40, 40, 3), dtype=np.float32)
    world.paint_sprite(frame, "disk", (20.0, 20.0), 8.0, 0.0, np.full(3, 0.5, dtype=np.float32),
                       top_light=world.TOP_LIGHT)
    assert frame[14, 20].mean() > frame[26, 20].mean()  # brighter on top
    assert WORLD.rotation_deg == (-10.0, 10.0)


def test_world_presets_and_balanced_labels():
    assert WORLD.counts["pretrain"] >= 2000 and WORLD.world
    for name in ("world32", "world48", "world64", "world32_domain2", "world32_fine"):
        config = PRESETS[name]
        pairs = len(config.motion_classes) * len(config.appearance_classes)
        for split, count in config.counts.items():
            labels = balanced_labels(config, split, 0)
            motions = {m: sum(1 for x, _ in labels if x == m) for m in config.motion_classes}
            assert max(motions.values()) - min(motions.values()) <= math.ceil(count % pairs / 1) and len(labels) == count
    assert set(PRESETS["world32_domain2"].appearance_classes) - set(WORLD.appearance_classes)


def test_world_motions_are_refused_outside_the_world_family():
    with pytest.raises(ConfigError, match="motion_classes"):
        dataclasses.replace(PRESETS["tiny"], motion_classes=("drop", "toss"))


def test_the_camera_drifts_by_at_most_one_pixel_per_frame_within_its_reach():
    offsets = world.camera_shake(np.random.default_rng(0), 2000, reach=2)
    assert offsets[0].tolist() == [0, 0] and np.abs(offsets).max() == 2
    steps = np.abs(np.diff(offsets, axis=0))
    assert steps.max() == 1
    # it moves on about SHAKE_STEP_P of the frames per axis (2/3 of the drawn steps are ±1, less at the limits)
    assert 0.5 * world.SHAKE_STEP_P < steps.mean() < world.SHAKE_STEP_P


def test_scene_cuts_are_refused_in_the_world():
    with pytest.raises(ConfigError, match="scene_cuts"):
        dataclasses.replace(WORLD, scene_cuts=1)
