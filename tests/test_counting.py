"""Repetition counting (Thoker 2023 Ch. 4, UCF-RC): the metrics by hand, the UCFRep and Countix adapters on files in
their released formats, the synthetic counterpart's exact counts, and `vssl eval counting` end to end."""

import dataclasses
import json
import math
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.io import savemat
from scipy.signal import find_peaks

import vssl
from vssl.app.cli import main
from vssl.core.errors import VsslError
from vssl.data import synthetic_repetition
from vssl.data.formats.common import VideoResolver, resolve_video_folder
from vssl.data.formats.repetition import (COUNTIX_VIDEO_FOLDERS, UCFREP_VIDEO_FOLDERS, load_countix, load_ucfrep,
                                          read_countix_csv, read_ucfrep_annotation)
from vssl.data.manifest import read_manifest
from vssl.data.synthetic import PRESETS
from vssl.data.synthetic_repetition import (REPETITION_PRESETS, balanced_counts, render_repetition,
                                            repetition_path, video_plan)
from vssl.data.video import open_video
from vssl.evaluation.arrow_of_time import LinearFramesSampler
from vssl.evaluation.counting import counting_loss, counting_metrics
from vssl.models.registry import build_backbone

TINY = dataclasses.replace(REPETITION_PRESETS["world32_repetition"], counts={"train": 18, "test": 9})
EVAL = ["data.clip_len=8", "data.crop_size=24", "data.short_side=24", "encoder.width=0.125", "finetune.batch_size=4",
        "progress=false"]


# ---------------------------------------------------------------------------------------------------------------
# Metrics


def test_metrics_round_the_count_then_score_it_against_the_truth():
    """Rounded (half to even): 2, 6, 9, 4, 2, -0 against 2, 5, 10, 4, 4, 3 → misses 0, 1, 1, 0, 2, 3;
    relative 0, 1/5, 1/10, 0, 2/4, 3/3 → mean 1.8 / 6 = 0.3; within one: 4 of 6."""
    metrics = counting_metrics(torch.tensor([2.4, 5.6, 9.0, 3.5, 2.5, -0.4]), torch.tensor([2, 5, 10, 4, 4, 3]))
    assert metrics["mean_counting_error"] == pytest.approx(0.3)
    assert metrics["off_by_one"] == pytest.approx(4 / 6)
    assert counting_metrics([7.0], [7]) == {"mean_counting_error": 0.0, "off_by_one": 1.0}
    assert counting_metrics([1.51], [3])["off_by_one"] == 1.0  # rounds to 2: one off counts as right


@pytest.mark.parametrize("predicted, target, message", [
    ([1.0], [0], "positive"), ([], [], "no videos"), ([1.0, 2.0], [1], "equal-length")])
def test_metrics_refuse_what_has_no_relative_error(predicted, target, message):
    with pytest.raises(ValueError, match=message):
        counting_metrics(predicted, target)


def test_the_training_loss_is_the_unrounded_relative_error():
    assert counting_loss(torch.tensor([2.4, 6.0]), torch.tensor([2.0, 8.0])).item() == pytest.approx((0.2 + 0.25) / 2)


# ---------------------------------------------------------------------------------------------------------------
# UCFRep: ucf526/annotations/{train,val}/<video>.mat, a struct 'label' per video (Zhang et al. 2020's release)

JUMP_ROPE = [3, 18, 33, 48, 64, 79, 94, 119, 146, 172, 198, 225]  # v_JumpRope_g22_c04 of UCFRep's val folder


def _write_mat(path, bounds, start, end, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    label = {"duration": np.array([[end - start + 1]]), "temporal_bound": np.array(bounds, dtype=float)[:, None],
             "start_frame": np.array([[start]]), "end_frame": np.array([[end]]), **extra}
    savemat(path, {"label": label})


def _ucfrep(tmp_path):
    annotations = tmp_path / "ucf526" / "annotations"
    _write_mat(annotations / "train" / "v_HulaHoop_g24_c03.mat", [1, 19, 37, 55, 73, 91], 1, 91,
               offset_next_estimate=np.zeros((1, 91)))
    _write_mat(annotations / "val" / "v_JumpRope_g22_c04.mat", JUMP_ROPE, 3, 225)
    for name in ("HulaHoop/v_HulaHoop_g24_c03.avi", "JumpRope/v_JumpRope_g22_c04.avi"):
        (tmp_path / "UCF-101" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "UCF-101" / name).touch()
    return annotations


def test_ucfrep_imports_from_the_cli_into_a_manifest_with_counts(tmp_path):
    """`vssl data import ucfrep` (a real subprocess) writes the manifest and sidecar the counting protocol reads."""
    _ucfrep(tmp_path)
    out = tmp_path / "ucfrep.csv"
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "data", "import", "ucfrep", str(tmp_path), "--out",
                           str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    samples = read_manifest(out)
    assert [(s.split, s.labels["count"]) for s in samples] == [("train", "5"), ("val", "11")]
    assert json.loads(out.with_name("ucfrep.dataset.json").read_text())["format"] == "ucfrep"


def test_ucfrep_round_trips_counts_bounds_and_the_repeating_segment(tmp_path):
    annotations = _ucfrep(tmp_path)
    video = read_ucfrep_annotation(annotations / "val" / "v_JumpRope_g22_c04.mat", "val")
    assert (video.bounds, video.count, video.start_frame, video.end_frame) == (tuple(JUMP_ROPE), 11, 3, 225)
    imported = load_ucfrep(tmp_path, {}, VideoResolver(resolve_video_folder(tmp_path, "", UCFREP_VIDEO_FOLDERS)))
    train, val = imported.samples
    assert (train.split, train.labels, train.start, train.end) == ("train", {"count": "5", "label": "HulaHoop"},
                                                                    0.0, 91 / 25)
    assert (val.split, val.labels, val.start, val.end) == ("val", {"count": "11", "label": "JumpRope"}, 2 / 25, 9.0)
    assert val.path.endswith("UCF-101/JumpRope/v_JumpRope_g22_c04.avi")
    assert (imported.train_split, imported.test_split, imported.classes) == ("train", "val",
                                                                             {"label": ["HulaHoop", "JumpRope"]})
    videos = VideoResolver(tmp_path / "UCF-101")
    assert load_ucfrep(tmp_path, {"fps": "50"}, videos).samples[1].end == 225 / 50  # the option's frame rate
    with pytest.raises(VsslError, match="fps='0': expected a positive frame rate"):
        load_ucfrep(tmp_path, {"fps": "0"}, videos)


@pytest.mark.parametrize("bounds, start, end, fault", [
    ([3, 18, 18, 33], 3, 33, "temporal_bound"), ([3, 18.5], 3, 33, "temporal_bound"), ([3, 40], 3, 33, "end_frame")])
def test_a_malformed_ucfrep_file_fails_in_one_line_naming_it(tmp_path, bounds, start, end, fault):
    path = tmp_path / "v_JumpRope_g22_c04.mat"
    _write_mat(path, bounds, start, end)
    with pytest.raises(VsslError, match=fault) as error:
        read_ucfrep_annotation(path, "val")
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    path.write_text("not a MATLAB file")
    with pytest.raises(VsslError, match="not a readable MATLAB") as error:
        read_ucfrep_annotation(path, "val")
    assert str(path) in str(error.value)


# ---------------------------------------------------------------------------------------------------------------
# Countix: countix_{train,val,test}.csv, seconds of the YouTube video (Dwibedi et al. 2020)

COUNTIX_HEADER = "video_id,class,kinetics_start,kinetics_end,repetition_start,repetition_end,count\n"


def _countix(tmp_path, train_rows: str):
    (tmp_path / "videos").mkdir()
    (tmp_path / "countix_train.csv").write_text(COUNTIX_HEADER + train_rows)
    (tmp_path / "countix_val.csv").write_text(COUNTIX_HEADER + "xyz,push up,5,15,5.0,15.0,7\n")
    for name in ("abc_000017_000027.mp4", "xyz_000005_000015.mp4", "abc.mp4", "xyz.mp4"):
        (tmp_path / "videos" / name).touch()


@pytest.mark.parametrize("layout, start, end", [("trimmed", 1.5, 9.0), ("full", 18.5, 26.0)])
def test_countix_rows_become_segments_of_the_clip_or_the_whole_video(tmp_path, layout, start, end):
    _countix(tmp_path, "abc,squat,17,27,18.500000,26.000000,4\n")
    videos = VideoResolver(resolve_video_folder(tmp_path, "", COUNTIX_VIDEO_FOLDERS))
    imported = load_countix(tmp_path, {"layout": layout}, videos)
    train, val = imported.samples
    assert (train.split, train.labels, train.start, train.end) == ("train", {"count": "4", "label": "squat"},
                                                                    start, end)
    assert (val.split, val.labels["count"]) == ("val", "7") and imported.classes == {"label": ["push up", "squat"]}
    assert train.path.endswith("abc_000017_000027.mp4" if layout == "trimmed" else "abc.mp4")


def test_countix_without_the_class_column_reads_the_counts(tmp_path):
    path = tmp_path / "countix_test.csv"
    path.write_text("video_id,kinetics_start,kinetics_end,repetition_start,repetition_end,count\nabc,0,10,1,9,3\n")
    (row,) = read_countix_csv(path)
    assert (row.video_id, row.action_class, row.repetition_start, row.repetition_end, row.count) == ("abc", "", 1, 9, 3)


@pytest.mark.parametrize("rows, fault", [
    ("abc,squat,17,27,18.5,26,4\nabc,squat,17,27,18.5,26,four\n", "countix_train.csv:3: count must be an integer"),
    ("abc,squat,17,27,16.0,26,4\n", "countix_train.csv:2: repetition segment"),
    ("abc,squat,17,27,20,19,4\n", "countix_train.csv:2 \\(repetition\\)"),
    ("abc,squat,17,27\n", "countix_train.csv:2: expected the 7 columns")])
def test_a_malformed_countix_line_fails_in_one_line_naming_it(tmp_path, rows, fault):
    _countix(tmp_path, rows)
    with pytest.raises(VsslError, match=fault) as error:
        load_countix(tmp_path, {"layout": "trimmed"}, VideoResolver(tmp_path / "videos"))
    assert "\n" not in str(error.value)
    (tmp_path / "countix_train.csv").write_text("video_id,kinetics_start,count\nabc,0,3\n")
    with pytest.raises(VsslError, match="countix_train.csv: Countix needs the column 'kinetics_end'"):
        read_countix_csv(tmp_path / "countix_train.csv")


# ---------------------------------------------------------------------------------------------------------------
# The synthetic counterpart


def peaks(signal: np.ndarray) -> int:
    """Local maxima of a sequence (a plateau counts once)."""
    steps = np.sign(np.diff(signal))
    steps = steps[steps != 0]
    return int(((steps[:-1] > 0) & (steps[1:] < 0)).sum())


def cycles(path: np.ndarray, action: str) -> int:
    """A bounce peaks once a cycle in height (y grows downwards), a sway once in x."""
    return peaks(-path[:, 1] if action == "bounce" else path[:, 0])


@pytest.fixture(scope="module")
def repetition_manifest(tmp_path_factory):
    """27 videos of the world32_repetition recipe, written by `vssl data synth --preset world32_repetition`."""
    out = tmp_path_factory.mktemp("repetition")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(synthetic_repetition.REPETITION_PRESETS, "world32_repetition", TINY)
        main(["data", "synth", "--preset", "world32_repetition", "--out", str(out), "--seed", "3", "--quiet"])
    return out / "manifest.csv"


def painted_cycles(frames: np.ndarray, scene: np.ndarray, plan) -> int:
    """Cycles of the sprite's centroid in the pixels where ``frames`` differ from the same video rendered without
    the sprite: peaks at least half the action's reach high and half a cycle apart."""
    sprite = np.abs(frames.astype(int) - scene).sum(axis=-1) > 30
    ys, xs = np.mgrid[0:frames.shape[1], 0:frames.shape[2]]
    area = sprite.sum(axis=(1, 2))
    assert area.min() > 0  # the sprite is in every frame
    centroid = ((sprite * ys).sum(axis=(1, 2)) if plan.action == "bounce" else (sprite * xs).sum(axis=(1, 2))) / area
    signal = -centroid if plan.action == "bounce" else centroid
    return len(find_peaks(signal, prominence=plan.reach / 2, distance=plan.cycle / 2)[0])


def test_every_video_shows_exactly_its_count_of_cycles(repetition_manifest, monkeypatch):
    samples = read_manifest(repetition_manifest)
    assert [s.split for s in samples] == ["train"] * 18 + ["test"] * 9
    for split in ("train", "test"):
        in_split = [s for s in samples if s.split == split]
        assert sorted(int(s.labels["count"]) for s in in_split) == sorted(n for n, _ in balanced_counts(TINY, split, 3))
        for index, sample in enumerate(in_split):
            count, action = int(sample.labels["count"]), sample.labels["action"]
            plan, background, sprites = video_plan(TINY, 3, split, index, count, action)
            frames, path = render_repetition(PRESETS["world32"], plan, background, sprites)
            assert cycles(path, action) == count and plan.appearance == sample.labels["appearance"]
            with monkeypatch.context() as patch:  # the same video without its sprite
                patch.setattr(synthetic_repetition, "paint_sprite", lambda *args, **kwargs: None)
                scene = render_repetition(PRESETS["world32"], *video_plan(TINY, 3, split, index, count, action))[0]
            assert painted_cycles(frames, scene, plan) == count
            with open_video(sample.path) as video:  # the file holds these frames (H.264 at crf 20 aside)
                decoded = video.read(list(range(plan.frames)))
            assert decoded.shape == frames.shape and np.abs(decoded.astype(int) - frames).mean() < 10


def test_32_spread_frames_show_every_cycle_and_the_count_is_not_the_length():
    """Over the whole preset: the clip `vssl eval counting` reads (32 frames spread over the video) still peaks once
    a cycle, and videos of one count differ in length and cycle length."""
    config = REPETITION_PRESETS["world32_repetition"]
    lengths: dict[int, set] = {}
    for split in config.counts:
        for index, (count, action) in enumerate(balanced_counts(config, split, 0)):
            plan = video_plan(config, 0, split, index, count, action)[0]
            path = repetition_path(plan, (16.0, 20.0))
            assert cycles(path, action) == count
            assert cycles(path[LinearFramesSampler(frames=32)(plan.frames, 16.0)[0]], action) == count
            lengths.setdefault(count, set()).add((plan.frames, round(plan.cycle, 3)))
    assert sorted(lengths) == list(range(2, 11)) and all(len(v) > 10 for v in lengths.values())
    frames_of_two = {frames for frames, _ in lengths[2]}
    assert max(frames_of_two) - min(frames_of_two) > 20  # two cycles in short and long videos alike


# ---------------------------------------------------------------------------------------------------------------
# `vssl eval counting`


def test_vssl_eval_counting_stores_finite_metrics(repetition_manifest, tmp_path):
    store = tmp_path / "results.sqlite"
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "counting", "synthetic_repetition",
                           f"data.manifest={repetition_manifest}", f"store={store}", "finetune.epochs=2", *EVAL],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(store) as db:
        rows = db.execute("select protocol, label, metric, value, n_videos from results").fetchall()
    assert {(p, label, metric) for p, label, metric, _, _ in rows} == {
        ("counting", "count", "mean_counting_error"), ("counting", "count", "off_by_one")}
    assert all(math.isfinite(value) and value >= 0 and n == 9 for *_, value, n in rows)


def test_the_python_api_runs_counting_on_an_in_memory_encoder(repetition_manifest, tmp_path):
    torch.manual_seed(0)
    model = build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1))
    results = vssl.evaluate(model, repetition_manifest, "counting", preset="synthetic_repetition",
                            store=str(tmp_path / "results.sqlite"), device="cpu", finetune__epochs=1,
                            finetune__batch_size=4, data__clip_len=8, data__crop_size=24, data__short_side=24,
                            progress=False)
    assert {r.metric for r in results} == {"mean_counting_error", "off_by_one"}
    assert all(r.protocol == "counting" and r.n_videos == 9 for r in results)
