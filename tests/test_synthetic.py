"""Tests for the synthetic video benchmark: determinism, manifest, label factors and encoding."""

import json
import math
from collections import Counter

import av
import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from vssl.core.errors import VsslError
from vssl.data import synthetic
from vssl.data.manifest import read_manifest
from vssl.data.synthetic import (PRESETS, SynthConfig, generate, render_video, rgb_to_yuv420,
                                 write_mp4)
from vssl.data.synthetic_sprites import SHAPE_EXTENT, sprite_coverage

MOTIONS = ("horizontal", "vertical", "diagonal", "circular")

# Very small benchmark for the file-writing tests: 2 x 2 classes, 12 videos.
SMALL_GRID = SynthConfig(name="test", size=32, num_frames=16, fps=8, counts={"pretrain": 4, "train": 4, "test": 4},
                         motion_classes=("horizontal", "vertical"), appearance_classes=("disk", "square"))
# All four motion classes, for render_video-only tests.
ALL_MOTIONS = SynthConfig(name="test4", size=32, num_frames=16, fps=8, counts={"train": 16})
STEADY_CAMERA = SynthConfig(name="steady", size=32, num_frames=16, fps=8, counts={"train": 16}, jitter_px=0,
                            noise_std=0.0)


def decode(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def decoded_dataset(manifest_path) -> dict[str, np.ndarray]:
    return {s.path.rsplit("/", 1)[-1]: decode(s.path) for s in read_manifest(manifest_path)}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    return {
        "seed0_w1": generate(root / "a", SMALL_GRID, seed=0, workers=1, progress=False),
        "seed0_w2": generate(root / "b", SMALL_GRID, seed=0, workers=2, progress=False),
        "seed1_w1": generate(root / "c", SMALL_GRID, seed=1, workers=1, progress=False),
    }


def test_same_seed_gives_identical_videos_and_manifest_whatever_the_worker_count(generated):
    one, two = generated["seed0_w1"], generated["seed0_w2"]
    assert one.read_text() == two.read_text()
    videos_one, videos_two = decoded_dataset(one), decoded_dataset(two)
    assert videos_one.keys() == videos_two.keys()
    for name in videos_one:
        np.testing.assert_array_equal(videos_one[name], videos_two[name])


def test_different_seed_gives_different_videos(generated):
    videos_zero, videos_one = decoded_dataset(generated["seed0_w1"]), decoded_dataset(generated["seed1_w1"])
    assert all(not np.array_equal(videos_zero[name], videos_one[name]) for name in videos_zero)


def test_manifest_counts_balance_and_decodable_videos(generated):
    samples = read_manifest(generated["seed0_w1"])
    assert Counter(s.split for s in samples) == {"pretrain": 4, "train": 4, "test": 4}
    for split in ("pretrain", "train", "test"):
        pairs = Counter((s.labels["motion"], s.labels["appearance"]) for s in samples if s.split == split)
        assert pairs == {(m, a): 1 for m in ("horizontal", "vertical") for a in ("disk", "square")}
    for sample in samples:
        assert decode(sample.path).shape == (16, 32, 32, 3)


def test_synth_json_records_preset_seed_parameters_and_counts(generated):
    info = json.loads((generated["seed1_w1"].parent / "synth.json").read_text())
    assert info["preset"] == "test" and info["seed"] == 1
    assert info["config"]["size"] == 32 and info["config"]["jitter_px"] == 1
    assert info["classes"] == {"motion": ["horizontal", "vertical"], "appearance": ["disk", "square"]}
    assert info["splits"]["train"] == {"count": 4, "motion": {"horizontal": 2, "vertical": 2},
                                       "appearance": {"disk": 2, "square": 2}}


def test_regenerating_overwrites_cleanly(tmp_path, generated):
    bigger = SynthConfig(**{**vars(SMALL_GRID), "counts": {"pretrain": 8, "train": 4, "test": 4}})
    generate(tmp_path, bigger, seed=0, workers=1, progress=False)
    manifest = generate(tmp_path, SMALL_GRID, seed=1, workers=1, progress=False)
    assert manifest.read_text() == generated["seed1_w1"].read_text()
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == sorted(
        s.path.rsplit("/", 1)[-1] for s in read_manifest(manifest))


def test_interrupted_regeneration_leaves_no_manifest(tmp_path, monkeypatch):
    generate(tmp_path, SMALL_GRID, seed=0, workers=1, progress=False)
    written = []

    def failing_write(frames, path, *args):
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(path)

    monkeypatch.setattr(synthetic, "write_mp4", failing_write)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, SMALL_GRID, seed=1, workers=1, progress=False)
    assert not (tmp_path / "manifest.csv").exists()


def test_unknown_preset_lists_the_valid_ones(tmp_path):
    with pytest.raises(VsslError, match="tiny, tiny_upright, tiny_domain2, tiny_fine, world32, world48, world64, world32_domain2, world32_fine, small"):
        generate(tmp_path, "huge", progress=False)


def test_bad_config_names_the_field():
    with pytest.raises(VsslError, match="motion_classes"):
        SynthConfig(name="bad", size=32, num_frames=8, fps=8, counts={"train": 4}, motion_classes=("zigzag",))
    with pytest.raises(VsslError, match="size"):
        SynthConfig(name="bad", size=33, num_frames=8, fps=8, counts={"train": 4})


def test_presets_match_their_specification():
    tiny, small = PRESETS["tiny"], PRESETS["small"]
    assert (tiny.size, tiny.num_frames, tiny.fps) == (64, 48, 16)
    assert tiny.counts == {"pretrain": 320, "train": 160, "test": 160}
    assert (small.size, small.num_frames, small.fps) == (112, 64, 16)
    assert small.counts == {"pretrain": 2000, "train": 800, "test": 800}
    for preset in (tiny, small):  # every split holds each (motion, appearance) pair equally often
        pairs = len(preset.motion_classes) * len(preset.appearance_classes)
        assert pairs == 16 and all(n % pairs == 0 for n in preset.counts.values())


def test_render_video_is_pure_and_has_the_configured_shape():
    first = render_video(ALL_MOTIONS, "circular", "cross", np.random.default_rng(7))
    second = render_video(ALL_MOTIONS, "circular", "cross", np.random.default_rng(7))
    assert first.dtype == np.uint8 and first.shape == (16, 32, 32, 3)
    np.testing.assert_array_equal(first, second)


def test_rgb_to_yuv420_matches_ffmpeg_swscale():
    frames = render_video(ALL_MOTIONS, "circular", "cross", np.random.default_rng(11))
    ours = rgb_to_yuv420(frames)
    reference = np.stack([av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p", interpolation="AREA")
                          .to_ndarray() for f in frames])
    assert ours.shape == reference.shape == (16, 48, 32)
    assert np.abs(ours.astype(int) - reference).max() <= 1  # rounding only


def luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(float) @ np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights


def test_write_mp4_round_trip_keeps_the_picture(tmp_path):
    config = SynthConfig(name="rt", size=64, num_frames=12, fps=8, counts={"train": 16})
    frames = render_video(config, "diagonal", "disk", np.random.default_rng(3))
    write_mp4(frames, tmp_path / "clip.mp4", fps=8)
    with av.open(str(tmp_path / "clip.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.format.name, stream.average_rate) == ("h264", "yuv420p", 8)
    decoded = decode(tmp_path / "clip.mp4")
    assert decoded.shape == frames.shape
    # Lossy (crf 20) and colour is halved in resolution (4:2:0), but brightness stays within a few levels.
    assert np.abs(luma(decoded) - luma(frames)).mean() < 3.0
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # the temporary file was renamed


def trajectories(config, per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for label, motion in enumerate(MOTIONS):
        for _ in range(per_class):
            paths.append(render_video(config, motion, "disk", rng, return_trajectory=True)[1])
            labels.append(label)
    return np.stack(paths), np.array(labels)


def motion_features(paths: np.ndarray) -> np.ndarray:
    """Per video: spread along x and y, and |correlation| of x and y (diagonal vs orbit)."""
    x, y = paths[..., 0], paths[..., 1]
    spread_x, spread_y = x.std(axis=1), y.std(axis=1)
    covariance = ((x - x.mean(1, keepdims=True)) * (y - y.mean(1, keepdims=True))).mean(1)
    return np.stack([spread_x, spread_y, 4 * np.abs(covariance) / (spread_x * spread_y)], axis=1)


def test_motion_class_is_not_predictable_from_the_first_frame_but_is_from_the_trajectory():
    paths, labels = trajectories(ALL_MOTIONS, per_class=100)
    knn = KNeighborsClassifier(n_neighbors=15)
    first_frame_accuracy = cross_val_score(knn, paths[:, 0], labels, cv=5).mean()
    trajectory_accuracy = cross_val_score(knn, motion_features(paths), labels, cv=5).mean()
    assert first_frame_accuracy < 0.33  # chance is 0.25; a start position tied to the class scores higher
    assert trajectory_accuracy > 0.9
    centre = (ALL_MOTIONS.size - 1) / 2
    for label in range(len(MOTIONS)):
        starts = paths[labels == label, 0]
        assert np.all(np.abs(starts.mean(axis=0) - centre) < 2.0)  # every class starts anywhere, centred
        assert np.all(np.ptp(starts, axis=0) > 0.3 * ALL_MOTIONS.size)


def test_each_motion_class_moves_as_named():
    paths, labels = trajectories(STEADY_CAMERA, per_class=10)
    min_spread = 0.5 * STEADY_CAMERA.amplitude[0] * STEADY_CAMERA.size
    for path, label in zip(paths, labels):
        x, y = path[:, 0], path[:, 1]
        motion = MOTIONS[label]
        if motion == "horizontal":
            assert np.ptp(y) < 1e-9 and x.std() > min_spread
        elif motion == "vertical":
            assert np.ptp(x) < 1e-9 and y.std() > min_spread
        elif motion == "diagonal":
            assert abs(np.corrcoef(x, y)[0, 1]) > 0.999
            tilt = math.degrees(math.atan2(np.ptp(y), np.ptp(x)))
            assert 30 - 1e-6 <= tilt <= 60 + 1e-6
        else:  # circular: all points at one distance from the least-squares circle centre
            design = np.stack([2 * x, 2 * y, np.ones_like(x)], axis=1)
            (cx, cy, _), *_ = np.linalg.lstsq(design, x * x + y * y, rcond=None)
            distance = np.hypot(x - cx, y - cy)
            assert distance.std() < 1e-6 * distance.mean() and distance.mean() >= STEADY_CAMERA.amplitude[0] * 32


def test_only_pixels_near_the_sprite_change_without_camera_shake_or_noise():
    video, path = render_video(STEADY_CAMERA, "circular", "square", np.random.default_rng(5), return_trajectory=True)
    reach = SHAPE_EXTENT * STEADY_CAMERA.sprite_radius[1] * STEADY_CAMERA.size + 2
    rows, cols = np.mgrid[0:32, 0:32]
    for t in (4, 9, 15):
        changed = np.any(video[t] != video[0], axis=-1)
        near = (np.hypot(cols - path[0, 0], rows - path[0, 1]) < reach) | (
            np.hypot(cols - path[t, 0], rows - path[t, 1]) < reach)
        assert changed.any() and not (changed & ~near).any()


# Expected area / bounding-box area of each sprite, from its geometry (unrotated).
BOX_FILL = {
    "disk": math.pi / 4,
    "square": 1.0,
    "triangle": 0.5,  # equilateral: (3*sqrt(3)/4) R^2 / (sqrt(3) R * 1.5 R)
    "cross": 5 / 9,  # arms of half-width L/3: (8/3 - 4/9) L^2 / (2L)^2
    "ring": math.pi * (1 - 0.6**2) / 4,
    "star": 5 * 0.45 * math.sin(math.radians(36)) / (2 * math.cos(math.radians(18)) * (1 + math.cos(math.radians(36)))),
}


@pytest.mark.parametrize("shape", sorted(BOX_FILL))
def test_sprite_shapes_have_their_geometry_and_equal_areas(shape):
    radius = 150.0  # large, so the half-pixel quantisation of 2x2 supersampled edges stays below 1% of the area
    offsets = np.arange(-250, 251, dtype=float)
    coverage = sprite_coverage(shape, offsets[None, :], offsets[:, None], radius)
    assert coverage.sum() == pytest.approx(math.pi * radius**2, rel=0.01)  # same area as the disk of that radius
    inside = coverage >= 0.5
    box = inside.any(axis=0).sum() * inside.any(axis=1).sum()
    assert inside.sum() / box == pytest.approx(BOX_FILL[shape], rel=0.03)


def test_sprite_shapes_differ_from_each_other():
    offsets = np.arange(-40, 41, dtype=float)
    masks = {s: sprite_coverage(s, offsets[None, :], offsets[:, None], 15.0) >= 0.5 for s in BOX_FILL}
    for a in masks:
        for b in masks:
            if a < b:
                assert (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum() < 0.85, (a, b)


def test_scene_cuts_change_the_background_at_even_intervals_and_keep_the_sprite():
    config = SynthConfig(**{**vars(STEADY_CAMERA), "name": "cuts", "scene_cuts": 2, "num_frames": 24})
    video, path = render_video(config, "horizontal", "disk", np.random.default_rng(3), return_trajectory=True)
    reach = SHAPE_EXTENT * config.sprite_radius[1] * config.size + 2
    rows, cols = np.mgrid[0:32, 0:32]
    far = np.ones((32, 32), dtype=bool)
    for t in range(24):  # pixels the sprite never comes near show only the background
        far &= np.hypot(cols - path[t, 0], rows - path[t, 1]) >= reach
    assert far.sum() > 50
    segment_of_frame = [t * 3 // 24 for t in range(24)]  # 3 backgrounds of 8 frames: cuts at frames 8 and 16
    for t in range(1, 24):
        same = np.array_equal(video[t][far], video[t - 1][far])
        assert same == (segment_of_frame[t] == segment_of_frame[t - 1]), t


def test_recolour_at_cuts_changes_the_sprite_colour_only_at_cuts():
    config = SynthConfig(**{**vars(STEADY_CAMERA), "name": "recolour", "scene_cuts": 1, "recolour_at_cuts": True})
    video, path = render_video(config, "vertical", "square", np.random.default_rng(4), return_trajectory=True)
    centre_colour = [video[t, int(round(path[t, 1])), int(round(path[t, 0]))] for t in range(16)]
    assert all(np.array_equal(centre_colour[t], centre_colour[0]) for t in range(8))  # first scene: frames 0-7
    assert all(np.array_equal(centre_colour[t], centre_colour[8]) for t in range(8, 16))
    assert not np.array_equal(centre_colour[0], centre_colour[8])


def _turning(trajectory: np.ndarray) -> float:
    """Total signed angle (radians) the path turns around its centroid; > 0 is clockwise on screen (y down)."""
    centred = trajectory - trajectory.mean(axis=0)
    angles = np.unwrap(np.arctan2(centred[:, 1], centred[:, 0]))
    return float(angles[-1] - angles[0])


@pytest.mark.parametrize("motion, sense, turns", [("orbit_cw", 1, (0.75, 1.0)), ("orbit_ccw", -1, (0.75, 1.0)),
                                                  ("orbit_cw_fast", 1, (1.5, 2.0)),
                                                  ("orbit_ccw_fast", -1, (1.5, 2.0))])
def test_fine_grained_orbits_differ_only_in_sense_and_speed(motion, sense, turns):
    """tiny_fine: cycles 0.75-1 turn per video; 'fast' doubles it. Over T frames the phase advances
    2π·cycles·(T-1)/T, so the measured turn lies in that range (the camera shake moves the centre by ≤ 2 px)."""
    config = synthetic.PRESETS["tiny_fine"]
    frames = config.num_frames
    for seed in range(5):
        _, trajectory = synthetic.render_video(config, motion, "disk", np.random.default_rng(seed),
                                               return_trajectory=True)
        turned = _turning(trajectory) / (2 * math.pi)
        low, high = (t * (frames - 1) / frames for t in turns)
        assert np.sign(turned) == sense and low - 0.05 <= abs(turned) <= high + 0.05


def test_datasets_are_marked_with_their_flip_safety(tmp_path):
    """The default motion classes are flip-invariant; the fine-grained orbits are not (cw ↔ ccw in a mirror)."""
    from dataclasses import replace

    from vssl.data.formats import read_dataset_info

    small = dict(size=32, num_frames=12, counts={"train": 4, "test": 4}, sprite_radius=(0.08, 0.1))
    plain = synthetic.generate(tmp_path / "plain", replace(synthetic.PRESETS["tiny"], **small), workers=1,
                               progress=False)
    fine = synthetic.generate(tmp_path / "fine", replace(synthetic.PRESETS["tiny_fine"], **small), workers=1,
                              progress=False)
    assert read_dataset_info(plain).horizontal_flip is True
    info = read_dataset_info(fine)
    assert info.horizontal_flip is False and info.classes["motion"] == list(synthetic.FINE_MOTIONS)
    assert (info.train_split, info.test_split) == ("train", "test")


def test_domain_shift_preset_changes_sprites_and_scenes():
    tiny, other = synthetic.PRESETS["tiny"], synthetic.PRESETS["tiny_domain2"]
    assert set(other.appearance_classes) - set(tiny.appearance_classes) == {"ring", "star"}
    assert other.motion_classes == tiny.motion_classes  # the motion task is the same, the look is not
    assert other.background_contrast < tiny.background_contrast and other.jitter_px > tiny.jitter_px
    assert "pretrain" not in other.counts
