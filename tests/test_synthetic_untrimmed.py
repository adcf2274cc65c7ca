"""The untrimmed world benchmark for localization: segments planned apart, actions only inside their segments, and
ActivityNet ground truth readable by the official-format reader."""

import dataclasses

import numpy as np
import pytest

from vssl.data import synthetic_untrimmed as untrimmed
from vssl.data.formats.temporal_annotations import read_activitynet_json
from vssl.data.synthetic import PRESETS
from vssl.data.video import open_video

SMALL = untrimmed.UntrimmedConfig(name="small", counts={"train": 2, "test": 1}, frames=(64, 80), actions=(1, 2),
                                  action_frames=(12, 16), min_gap=4)


def test_segments_never_overlap_and_keep_their_gaps():
    rng = np.random.default_rng(0)
    for _ in range(200):
        total, segments = untrimmed.plan_segments(untrimmed.UNTRIMMED_PRESETS["world32_untrimmed"], rng)
        assert 320 <= total <= 480 and 1 <= len(segments) <= 4
        edges = [(start, start + length) for start, length in segments]
        assert edges[0][0] >= 8 and edges[-1][1] <= total - 8
        assert all(nxt[0] - prev[1] >= 8 for prev, nxt in zip(edges, edges[1:]))
        assert all(24 <= length <= 48 for _, length in segments)


def test_actions_appear_only_inside_their_segments():
    """The same background stream rendered with and without its action: identical outside [start, end), different
    inside (noise off, so that only the sprite differs)."""
    world = dataclasses.replace(PRESETS["world32"], noise_std=0.0)
    _, background, sprites = untrimmed.video_streams(0, "train", 3)
    _, background_again, _ = untrimmed.video_streams(0, "train", 3)
    with_action = untrimmed.render_untrimmed(world, 60, [(20, 16, "drop", "disk")], background, sprites)
    idle = untrimmed.render_untrimmed(world, 60, [], background_again, np.random.default_rng(1))
    differs = (with_action != idle).any(axis=(1, 2, 3))
    assert not differs[:20].any() and not differs[36:].any() and differs[20:36].all()


def test_generated_videos_and_activitynet_ground_truth(tmp_path, monkeypatch):
    monkeypatch.setitem(untrimmed.UNTRIMMED_PRESETS, "small", SMALL)
    manifest = untrimmed.generate_untrimmed(tmp_path, "small", seed=0, progress=False)
    annotations = read_activitynet_json(tmp_path / "annotations.json")
    assert set(annotations) == {"train_00000", "train_00001", "test_00000"}
    assert annotations["test_00000"].subset == "validation" and annotations["train_00000"].fps == 16.0
    for name, entry in annotations.items():
        with open_video(tmp_path / "videos" / f"{name}.mp4") as reader:
            assert reader.num_frames == round(entry.duration * 16)
        assert all(0 < start < end < entry.duration and label in PRESETS["world32"].motion_classes
                   for start, end, label in entry.segments)
    assert manifest.read_text().count("\n") == 4  # header and three videos
    with pytest.raises(Exception, match="unknown untrimmed preset"):
        untrimmed.generate_untrimmed(tmp_path, "nope")


def test_a_bystander_rests_in_every_idle_frame_and_never_during_an_action():
    """The same streams rendered with and without the bystander (noise off): identical during the action, different
    in every idle frame, and the bystander itself does not move (its idle frames agree where the camera does)."""
    world = dataclasses.replace(PRESETS["world32"], noise_std=0.0, jitter_px=0)
    renders = []
    for bystander in (False, True):
        _, background, sprites = untrimmed.video_streams(0, "train", 5)
        renders.append(untrimmed.render_untrimmed(world, 60, [(20, 16, "toss", "disk")], background, sprites,
                                                  bystander=bystander))
    differs = (renders[0] != renders[1]).any(axis=(1, 2, 3))
    assert differs[:20].all() and not differs[20:36].any() and differs[36:].all()
    bystander_pixels = renders[1] != renders[0]
    assert (bystander_pixels[0] == bystander_pixels[59]).all()
