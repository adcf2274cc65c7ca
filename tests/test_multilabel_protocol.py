"""Multi-label classification (Charades; Thoker 2023 Ch. 4): the official-format adapter, the world32_multilabel
generator, the test max-pool over views, and `vssl eval multilabel` in a real process."""

import json
import math
import sqlite3
import subprocess
import sys

import pytest
import torch

import vssl
from vssl.core.errors import ConfigError, VsslError
from vssl.data.formats import import_dataset, read_dataset_info
from vssl.data.manifest import label_list, read_manifest, write_manifest
from vssl.data.synthetic_multilabel import LABEL_SET, MultilabelConfig, generate_multilabel, plan_sprites
from vssl.data.synthetic import PRESETS
from vssl.data.synthetic_untrimmed import video_streams
from vssl.evaluation.multilabel import multilabel_metrics, sigmoid_max_over_views
from vssl.evaluation.protocols import check_protocol_names

HEADER = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"
# class codes out of numeric order: the manifest must follow the class file, not sorted codes
CLASSES = "c003 Tidying a shelf\nc000 Holding some clothes\nc001 Putting clothes somewhere\nc002 Taking a box\n"
TRAIN = [  # (id, actions)
    ("46GP8", "c001 11.90 21.20;c003 0.00 12.60;c001 22.0 24.5"),
    ("N11GT", ""),
    ("0IH69", "c000 2.50 7.75"),
]
TEST = [("KRF68", "c002 0.00 3.10;c000 1.0 9.0"), ("ZZ9ZZ", "c003 4 5")]
TINY = MultilabelConfig(name="tiny_multilabel", counts={"train": 16, "test": 8}, num_frames=16)


def _row(video_id: str, actions: str) -> str:
    # a quoted description spanning two lines, as the official files have quoted free text
    return (f'{video_id},HR43,Kitchen,6,7,Yes,"A person cooks, then looks.",food;stove,"Line one.\nLine two.",'
            f'{actions},24.83\n')


def _charades(root, train=TRAIN, test=TEST):
    (root / "Charades").mkdir(parents=True, exist_ok=True)
    (root / "Charades_v1_480").mkdir(exist_ok=True)
    (root / "Charades" / "Charades_v1_classes.txt").write_text(CLASSES)
    for split, rows in (("train", train), ("test", test)):
        (root / "Charades" / f"Charades_v1_{split}.csv").write_text(HEADER + "".join(_row(*row) for row in rows))
        for video_id, _ in rows:
            (root / "Charades_v1_480" / f"{video_id}.mp4").write_bytes(b"")
    return root


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_charades_import_round_trips_exact_label_sets_in_class_file_order(tmp_path, suffix):
    manifest = import_dataset("charades", _charades(tmp_path / "charades"), tmp_path / f"charades{suffix}")
    samples = read_manifest(manifest)
    labels = {s.path.rsplit("/", 1)[1]: (s.split, label_list(s, "label")) for s in samples}
    assert labels == {"46GP8.mp4": ("train", ["c003", "c001"]), "N11GT.mp4": ("train", []),
                      "0IH69.mp4": ("train", ["c000"]), "KRF68.mp4": ("test", ["c000", "c002"]),
                      "ZZ9ZZ.mp4": ("test", ["c003"])}
    assert next(s for s in samples if s.path.endswith("N11GT.mp4")).labels == {}  # no actions: no value
    info = read_dataset_info(manifest)
    assert info.classes == {"label": ["c003", "c000", "c001", "c002"]}
    assert (info.train_split, info.test_split, info.splits) == ("train", "test", {"test": 2, "train": 3})
    again = tmp_path / f"again{suffix}"
    write_manifest(samples, again)
    assert read_manifest(again) == samples


@pytest.mark.parametrize("actions, message", [
    ("c001 11.90", r"action 'c001 11\.90' must be '<class> <start> <end>'"),
    ("c001 1.0 2.0;c009 1 2", r"action class 'c009' is not in the class list"),
    ("c001 1.0 soon", r"a time of action 'c001 1\.0 soon' must be a number of seconds, got 'soon'"),
])
def test_a_malformed_actions_field_is_one_line_naming_file_and_line(tmp_path, actions, message):
    root = _charades(tmp_path, train=[TRAIN[0], ("BAD01", actions)])
    with pytest.raises(VsslError, match=message) as error:
        import_dataset("charades", root, tmp_path / "m.csv")
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(f"{root / 'Charades' / 'Charades_v1_train.csv'}:4: ")  # header, row 1 on lines 2-3


@pytest.fixture(scope="module")
def tiny_multilabel(tmp_path_factory):
    return generate_multilabel(tmp_path_factory.mktemp("multilabel"), TINY, seed=0, progress=False)


def test_generated_label_sets_are_the_sprites_motions(tiny_multilabel):
    world = PRESETS[TINY.world]
    samples = read_manifest(tiny_multilabel)
    sprites = json.loads((tiny_multilabel.parent / "synth.json").read_text())["sprites"]
    assert [s.split for s in samples] == ["train"] * 16 + ["test"] * 8
    for sample in samples:
        split, index = sample.path.rsplit("/", 1)[1][:-4].split("_")
        plan = plan_sprites(TINY, world.motion_classes, world.appearance_classes,
                            video_streams(0, split, int(index))[0])  # the plan drawn again from its own stream
        motions = [motion for motion, _ in plan]
        assert 2 <= len(plan) <= 3 and len(set(motions)) == len(motions)
        assert [list(sprite) for sprite in plan] == sprites[sample.path.rsplit("/", 1)[1]]
        assert label_list(sample, LABEL_SET) == [m for m in world.motion_classes if m in motions]
    assert read_dataset_info(tiny_multilabel).classes == {LABEL_SET: list(world.motion_classes)}
    assert len({len(label_list(s, LABEL_SET)) for s in samples}) == 2  # both 2- and 3-sprite videos occur


def test_test_scores_are_max_pooled_over_views():
    """Class 0: maxima 3, 1, 2 rank the positives (videos 0, 2) first: AP 1; averaging the views' sigmoids would
    rank video 1 (0.73) over video 0 (0.5) and video 2 (0.45): AP (1/2 + 2/3) / 2. Class 1: maxima 0, -1, 0.5
    put its positive (video 1) last: AP 1/3. mAP = (1 + 1/3) / 2."""
    logits = torch.tensor([[[3.0, 0.0], [-3.0, 0.0]],
                           [[1.0, -1.0], [1.0, -2.0]],
                           [[2.0, 0.5], [-4.0, -5.0]]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    scores = sigmoid_max_over_views(logits)
    assert torch.allclose(scores, torch.sigmoid(torch.tensor([[3.0, 0.0], [1.0, -1.0], [2.0, 0.5]])))
    assert multilabel_metrics(scores.numpy(), targets.numpy())["mAP"] == pytest.approx(100 * (1 + 1 / 3) / 2)
    mean = logits.sigmoid().mean(dim=1)
    averaged = 100 * ((1 / 2 + 2 / 3) / 2 + 1 / 3) / 2
    assert multilabel_metrics(mean.numpy(), targets.numpy())["mAP"] == pytest.approx(averaged)


def test_multilabel_runs_apart_from_single_label_protocols():
    check_protocol_names(["multilabel", "multilabel_finetune"])
    with pytest.raises(ConfigError, match="protocol 'linear' cannot run with multilabel or multilabel_finetune"):
        check_protocol_names(["multilabel", "linear"])


TINY_EVAL = ["encoder.width=0.125", "data.num_clips=2", "linear.epochs=3", "finetune.epochs=1",
             "finetune.batch_size=8", "progress=false", "feature_cache=none"]


def test_vssl_eval_multilabel_stores_a_finite_map_for_both_variants(tiny_multilabel, tmp_path):
    store = tmp_path / "results.sqlite"
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "multilabel,multilabel_finetune",
                           "synthetic_world_multilabel", f"data.manifest={tiny_multilabel}", f"store={store}",
                           *TINY_EVAL], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(store) as db:
        rows = db.execute("select protocol, label, metric, value, n_videos from results order by protocol").fetchall()
    assert [row[:3] for row in rows] == [("multilabel", LABEL_SET, "mAP"), ("multilabel_finetune", LABEL_SET, "mAP")]
    assert all(math.isfinite(row[3]) and 0 < row[3] <= 100 and row[4] == 8 for row in rows)


def test_the_python_api_evaluates_multilabel(tiny_multilabel, tmp_path):
    results = vssl.evaluate("random", tiny_multilabel, "multilabel", device="cpu", preset="synthetic_world_multilabel",
                            store=str(tmp_path / "results.sqlite"), encoder__width=0.125, data__num_clips=2,
                            linear__epochs=3, progress=False, feature_cache="none")
    assert [(r.protocol, r.label, r.metric, r.n_videos) for r in results] == [("multilabel", LABEL_SET, "mAP", 8)]
