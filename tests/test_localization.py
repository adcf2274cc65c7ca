"""`vssl eval localization`: snippet clips at exact frames, metrics by hand, BSN learning a cue it is given, and the
whole protocol from the CLI on untrimmed world videos with ActivityNet JSON and THUMOS14 annotations."""

import csv
import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import torch

from vssl.app.localization import read_annotations
from vssl.data import synthetic_untrimmed as untrimmed
from vssl.data.sampling import SnippetSampler
from vssl.evaluation import localization as loc
from vssl.evaluation.proposals import segment_iou

SMALL = untrimmed.UntrimmedConfig(name="small", counts={"train": 6, "test": 3}, frames=(64, 80), actions=(1, 2),
                                  action_frames=(12, 16), min_gap=4)


def test_snippets_one_per_position_centred_on_their_snippet():
    """40 frames in 4-frame snippets, 10 positions: position t reads snippet t (centre 4t + 2), whose 2-frame
    clip at stride 2 (span 3) starts at floor(4t + 2 − 1.5) = 4t."""
    clips = SnippetSampler(clip_len=2, stride=2, snippet_stride=4, scale=10)(40, 16.0)
    assert clips == [[4 * t, 4 * t + 2] for t in range(10)]


def test_fewer_snippets_than_positions_repeat_the_nearest_and_clamp_at_the_end():
    """20 frames → 5 snippets of 4 for 10 positions: centres (t + 0.5)·2 fall in snippets 0,0,1,1,2,2,3,3,4,4;
    the last snippet (centre 18) would start at 16.5 − 0 … clamped to the last start 20 − 3 = 17."""
    sampler = SnippetSampler(clip_len=2, stride=2, snippet_stride=4, scale=10)
    assert sampler.snippets(20).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    starts = [clip[0] for clip in sampler(20, 16.0)]
    assert starts == [0, 0, 4, 4, 8, 8, 12, 12, 16, 16]
    assert sampler(5, 16.0)[-1] == [2, 4]  # max start 5 − 3 = 2


def test_metrics_by_hand():
    """Two videos of 10 s. a: one 'x' action [1, 3] found exactly; b: a 'y' action [4, 8] whose only proposal
    [4, 6] has tIoU 0.5. At tIoU 0.5:0.05:1.0 (11 thresholds) a is recalled at all 11, b at the first only:
    AR = (11 + 1) / 22. Per class at tIoU 0.5: x 100 %, y 100 %. Detection with the right class per video: x's AP
    is 100 at every threshold; y's is 100 at 0.3–0.5, 0 at 0.6 and 0.7 → mAP 100, 100, 100, 50, 50."""
    truth = {"a": [(1.0, 3.0, "x")], "b": [(4.0, 8.0, "y")]}
    proposals = {"a": np.array([[1.0, 3.0, 0.9]]), "b": np.array([[4.0, 6.0, 0.8]])}
    found = loc.detections(proposals, {"a": np.array([0.9, 0.1]), "b": np.array([0.2, 0.7])}, ["x", "y"], top=1)
    assert found == {"x": [("a", 1.0, 3.0, pytest.approx(0.81))], "y": [("b", 4.0, 6.0, pytest.approx(0.56))]}
    recall, per_class, mean_ap, curve = loc.localization_metrics(truth, proposals, found, loc.LocalizationConfig())
    assert recall["AR@100"] == pytest.approx(100 * 12 / 22)
    assert per_class == {"x": pytest.approx(100.0), "y": pytest.approx(100.0)}
    assert [mean_ap[f"mAP@{t}"] for t in ("0.3", "0.4", "0.5", "0.6", "0.7")] == pytest.approx([100, 100, 100, 50, 50])
    assert curve.tolist() == pytest.approx([100.0] + [50.0] * 10)


def _cue_features(segments, scale, noise, generator):
    """[scale, 4] features whose first channel is 1 inside an action and 0 outside, plus Gaussian noise."""
    inside = torch.from_numpy(loc.bsn.tem_targets(segments, scale)[0])
    return torch.cat([inside[:, None], torch.zeros(scale, 3)], dim=1) + noise * torch.randn(scale, 4,
                                                                                          generator=generator)


def test_bsn_learns_actionness_from_features_that_carry_it():
    """Features that mark the actions make TEM + PEM rank first a proposal that overlaps the action well (mean tIoU
    of each video's top proposal); the same videos with the cue taken from other videos do not."""
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    config = loc.LocalizationConfig(tem_epochs=10, pem_epochs=5, scale=50)

    def video():
        start = rng.uniform(0.05, 0.55)
        return np.array([[start, start + rng.uniform(0.15, 0.4)]])

    train = [video() for _ in range(32)]
    test = [video() for _ in range(16)]

    def recall(features_of):
        x_train = torch.stack([features_of(s, i) for i, s in enumerate(train)])
        tem = loc.train_tem(x_train, train, config, generator)
        pem = loc.train_pem(loc.tem_curves(tem, x_train), train, config, generator)
        x_test = torch.stack([features_of(s, 100 + i) for i, s in enumerate(test)])
        best = [loc.video_proposals(c, pem, config)[0, :2] for c in loc.tem_curves(tem, x_test)]
        return float(np.mean([segment_iou(b, s)[0] for b, s in zip(best, test)]))

    def cue(segments, i):
        return _cue_features(segments, 50, 0.1, generator)

    order = np.random.default_rng(1).permutation(200)
    everyone = {i: s for i, s in enumerate(train)} | {100 + i: s for i, s in enumerate(test)}

    def shuffled(segments, i):  # another video's cue
        other = list(everyone)[order[list(everyone).index(i)] % len(everyone)]
        return _cue_features(everyone[other], 50, 0.1, generator)

    informed, uninformed = recall(cue), recall(shuffled)
    assert informed >= 0.8
    assert uninformed <= 0.5


@pytest.fixture(scope="module")
def untrimmed_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("untrimmed")
    untrimmed.UNTRIMMED_PRESETS["small"] = SMALL
    try:
        manifest = untrimmed.generate_untrimmed(out / "data", preset="small", seed=0, progress=False)
    finally:
        del untrimmed.UNTRIMMED_PRESETS["small"]
    return manifest


QUICK = ["localization.tem_epochs=2", "localization.pem_epochs=2", "localization.snippet_stride=2",
         "localization.scale=20", "data.batch_size=3"]


def _stored(store):
    with sqlite3.connect(store) as db:
        return {(label, metric): value for label, metric, value in
                db.execute("SELECT label, metric, value FROM results WHERE protocol = 'localization'")}


def test_cli_writes_metrics_proposals_curve_and_class_recall(untrimmed_data, tmp_path):
    store = tmp_path / "results.sqlite"
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "localization", "localization_world32",
                           f"data.manifest={untrimmed_data}", f"store={store}", *QUICK],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    stored = _stored(store)
    annotations = read_annotations(untrimmed_data.parent / "annotations.json")
    test_videos = sorted(v for v, a in annotations.items() if a.subset == "validation")
    test_classes = sorted({label for v in test_videos for _, _, label in annotations[v].segments})
    assert {m for label, m in stored if label == "proposals"} == {f"AR@{n}" for n in (50, 100, 200, 500, 1000)}
    assert {m for label, m in stored if label == "per_class"} == set(test_classes)
    assert {m for label, m in stored if label == "detection"} == {f"mAP@{t}" for t in (0.3, 0.4, 0.5, 0.6, 0.7)}
    assert all(0.0 <= v <= 100.0 for v in stored.values())
    folder, = (tmp_path / "localization").iterdir()
    proposals = json.loads((folder / "proposals.json").read_text())["results"]
    assert sorted(proposals) == test_videos
    for video, found in proposals.items():
        duration = annotations[video].duration
        assert all(0 <= p["segment"][0] <= p["segment"][1] <= duration + 1e-3 for p in found)
        scores = [p["score"] for p in found]
        assert scores == sorted(scores, reverse=True)
    assert (folder / "recall_tiou.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.reader((folder / "per_class_recall.csv").open()))
    assert [r[0] for r in rows[1:]] == test_classes
    assert [float(r[1]) for r in rows[1:]] == pytest.approx([stored["per_class", c] for c in test_classes], abs=0.01)


def test_thumos_folder_gives_the_same_results_as_the_json(untrimmed_data, tmp_path):
    """The same ground truth written as THUMOS14 files (train videos as <Class>_val.txt, test as _test.txt):
    the Python API scores it exactly as the JSON (THUMOS files carry no duration: it comes from the video)."""
    import vssl

    annotations = read_annotations(untrimmed_data.parent / "annotations.json")
    folder = tmp_path / "thumos"
    folder.mkdir()
    lines: dict[str, list[str]] = {}
    for video, entry in annotations.items():
        split = "val" if entry.subset == "training" else "test"
        for start, end, label in entry.segments:
            lines.setdefault(f"{label}_{split}.txt", []).append(f"{video} {start} {end}")
    for name, rows in lines.items():
        (folder / name).write_text("\n".join(rows) + "\n")
    (folder / "Ambiguous_test.txt").write_text("test_00000 0.0 0.5\n")
    quick = {key.replace(".", "__"): value for key, value in (q.split("=") for q in QUICK)}
    common = dict(store=str(tmp_path / "r.sqlite"), progress=False, preset="localization_world32",
                  **{k: int(v) for k, v in quick.items()})
    by_json = vssl.evaluate("random", str(untrimmed_data), ["localization"], **common)
    by_thumos = vssl.evaluate("random", str(untrimmed_data), ["localization"], localization__annotations=str(folder),
                              **common)
    assert len(by_json) == len(by_thumos) > 10
    assert [(r.label, r.metric, r.value) for r in by_json] == \
        [(r.label, r.metric, pytest.approx(r.value)) for r in by_thumos]


def test_missing_annotations_fail_in_one_line(untrimmed_data, tmp_path):
    """A manifest without annotations.json beside it and no localization.annotations: a one-line error naming
    the key and the file looked for, and no result stored."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(untrimmed_data.read_text())
    store = tmp_path / "r.sqlite"
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "localization", "localization_world32",
                           f"data.manifest={manifest}", f"store={store}", *QUICK], capture_output=True, text=True)
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    assert "localization.annotations" in message and str(tmp_path / "annotations.json") in message
    assert not store.exists() or not _stored(store)
