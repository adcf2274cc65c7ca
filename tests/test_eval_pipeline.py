"""Evaluation driver on the micro benchmark: feature cache without re-decoding, retrieval by layer, low-shot subsets,
multi-crop views, fine-tuning with frozen stages, linear schedules, CLI and recipe presets."""

from collections import Counter

import pytest
import torch

import vssl.data.loader
from vssl.app.cli import main
from vssl.app.eval_timing import parse_line
from vssl.app.evaluate import EncoderSource, EvalConfig, EvalData, run_eval
from vssl.core.config import PRESET_DIR, load_config
from vssl.core.errors import ConfigError
from vssl.data.manifest import read_manifest
from vssl.data.transforms import SpatialCrops, build_eval_transform, build_multi_crop_eval_transform
from vssl.evaluation.finetune import FinetuneConfig, finetune, frozen_stage_modules
from vssl.evaluation.linear import LinearConfig, lr_factor, train_linear_probe
from vssl.evaluation.metrics import topk_accuracy
from vssl.evaluation.subsets import subset_file
from vssl.results.report import retrieval_table, summarise

from conftest import micro_eval_config

R3D_TAPS = ["stem", "layer1", "layer2", "layer3", "layer4", "pool"]


class DecodeCounter:
    """Counts videos opened by the dataset (the loader runs in-process with num_workers=0)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = vssl.data.loader.open_video

        def counting(path):
            self.calls += 1
            return original(path)

        monkeypatch.setattr(vssl.data.loader, "open_video", counting)


@pytest.fixture(scope="module")
def first_run(micro_manifest, tmp_path_factory):
    """kNN + retrieval at every tap, 2 seeds of a random encoder, with the cache empty."""
    tmp = tmp_path_factory.mktemp("eval")
    with pytest.MonkeyPatch.context() as monkeypatch:
        counter = DecodeCounter(monkeypatch)
        results = run_eval(["knn", "retrieval"], micro_eval_config(micro_manifest, tmp, "retrieval.taps=all", "seeds=2"))
    return tmp, results, counter.calls


def test_retrieval_taps_all_gives_a_table_row_per_tap(first_run):
    _, results, decoded = first_run
    assert decoded == 2 * 32  # 2 seeds (2 random encoders) × 32 train + test videos, each decoded once
    protocols = {r.protocol for r in results}
    assert protocols == {"knn", *(f"retrieval@{tap}" for tap in R3D_TAPS)}
    retrieval = [r for r in results if r.protocol.startswith("retrieval@")]
    # 6 taps × 5 k × 2 label sets × 2 seeds
    assert len(retrieval) == 6 * 5 * 2 * 2 and {r.seed for r in retrieval} == {0, 1}
    assert all(r.value == 100.0 for r in retrieval if r.metric in ("top20", "top50"))  # 2 classes, 16 neighbours
    table = retrieval_table(results)
    motion = table.split("label motion\n", 1)[1].split("\n\n")[0].splitlines()
    assert motion[0].split() == ["tap", "top1", "top5", "top10", "top20", "top50"]
    assert [line.split()[0] for line in motion[2:]] == R3D_TAPS
    assert "±" in motion[2]  # mean ± std over the two seeds


def test_second_protocol_run_reads_the_cache_without_decoding(first_run, micro_manifest, monkeypatch):
    tmp, results, _ = first_run
    counter = DecodeCounter(monkeypatch)
    later = run_eval(["linear", "svm", "retrieval"],
                     micro_eval_config(micro_manifest, tmp, "retrieval.taps=pool3,pool5", "svm.tap=pool5", "seeds=2"))
    assert counter.calls == 0
    assert {r.protocol for r in later} == {"linear", "svm@layer4", "retrieval@layer2", "retrieval@layer4"}
    first = {(r.protocol, r.label, r.metric, r.seed): r.value for r in results}
    for r in later:  # same cached features → the same retrieval numbers
        if r.protocol.startswith("retrieval@"):
            assert r.value == first[(r.protocol, r.label, r.metric, r.seed)]
    # other views or another random seed are other cache entries: decoded again
    run_eval(["knn"], micro_eval_config(micro_manifest, tmp, "data.num_clips=3"))
    assert counter.calls == 32
    run_eval(["knn"], micro_eval_config(micro_manifest, tmp, "seed=5"))
    assert counter.calls == 64


def test_cli_prints_the_retrieval_table_by_layer(first_run, micro_manifest, capsys):
    tmp, _, _ = first_run
    main(["eval", "retrieval", f"data.manifest={micro_manifest}", "data.labels=[motion]", "data.clip_len=4",
          "data.stride=2", "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0",
          f"store={tmp / 'results.sqlite'}", "progress=false", "encoder.width=0.125", "encoder.depth=[1,1,1,1]",
          "--taps", "pool2,pool4", "--seeds", "2"])
    out = capsys.readouterr().out
    by_layer = out.split("label motion\n", 1)[1].splitlines()
    assert [line.split()[0] for line in by_layer[2:4]] == ["layer1", "layer3"]
    assert "±" in by_layer[2]  # two seeds: mean ± std
    timing = parse_line(out.splitlines()[-1])  # first_run cached every tap: 2 seeds × 2 splits × 2 taps found
    assert (timing["hits"], timing["misses"]) == (8, 0) and timing["total"] >= timing["features"] > 0


def test_frozen_protocols_on_a_low_shot_subset(first_run, micro_manifest):
    tmp, _, _ = first_run
    results = run_eval(["knn"], micro_eval_config(micro_manifest, tmp, "data.labels=[appearance]", "data.train_subset=4",
                                        "knn.k=1"))
    assert {(r.label, r.metric) for r in results} == {("appearance", "top1"), ("appearance", "mean_class_acc")}
    chosen = subset_file(micro_manifest, "train", "appearance", 4, 0).read_text().splitlines()
    train = {s.path.rsplit("/", 1)[1]: s.labels["appearance"] for s in read_manifest(micro_manifest, "train")}
    assert Counter(train[line.rsplit("/", 1)[1]] for line in chosen) == {"disk": 2, "square": 2}


def test_unknown_tap_and_protocol_are_config_errors(micro_manifest, tmp_path):
    with pytest.raises(ConfigError, match=r"svm\.tap: unknown tap 'pool9'"):
        run_eval(["svm"], micro_eval_config(micro_manifest, tmp_path, "svm.tap=pool9", "feature_cache=none"))
    with pytest.raises(ConfigError, match="unknown protocol 'aslan'"):
        run_eval(["aslan"], micro_eval_config(micro_manifest, tmp_path))


def test_three_crops_along_the_long_side():
    frame = torch.arange(4 * 6, dtype=torch.float32).view(1, 1, 4, 6).expand(3, 2, 4, 6)
    crops = SpatialCrops(4, 3)(frame)
    assert crops.shape == (3, 3, 2, 4, 4)
    assert [c[0, 0, 0].tolist() for c in crops] == [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]  # left, centre, right
    portrait = SpatialCrops(2, 3)(torch.arange(5 * 3, dtype=torch.float32).view(1, 1, 5, 3).expand(3, 1, 5, 3))
    assert [c[0, 0, :, 0].tolist() for c in portrait] == [[0, 3], [3, 6], [9, 12]]  # top, centre, bottom
    video = torch.rand(3, 2, 30, 40, generator=torch.Generator().manual_seed(0))
    one = build_multi_crop_eval_transform(24, 28, 1)(video)
    assert one.shape == (1, 3, 2, 24, 24) and torch.allclose(one[0], build_eval_transform(24, 28)(video), atol=1e-6)


def test_finetune_with_adam_frozen_stages_and_three_crop_test(micro_manifest):
    config = micro_eval_config(micro_manifest, micro_manifest.parent, "data.crops=3", "data.short_side=28").data
    data = EvalData(config, progress=False)
    encoder = EncoderSource(micro_eval_config(micro_manifest, micro_manifest.parent).encoder).encoder(seed=0)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    train_set = data.clips(data.train, ["motion"], training=True)
    test_set = data.clips(data.test, ["motion"])
    assert test_set[0]["clips"].shape[0] == 2 * 3  # 2 clips × 3 crops
    scores, skipped = finetune(encoder, train_set, test_set, 2, FinetuneConfig(
        epochs=1, lr=0.01, milestones=(), batch_size=8, optimizer="adam", freeze_stages=2), 0, progress=False)
    assert scores.shape == (16, 2) and torch.allclose(scores.sum(dim=1), torch.ones(16)) and skipped == []
    after = encoder.state_dict()
    frozen = [k for k in before if k.startswith(("stem.", "layer1."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # weights and BN running statistics
    assert not torch.equal(before["layer2.0.conv1.0.weight"], after["layer2.0.conv1.0.weight"])
    with pytest.raises(ConfigError, match=r"finetune\.freeze_stages=6 must be in \[0, 5\]"):
        frozen_stage_modules(encoder, 6)


def test_linear_step_schedule_and_adam():
    config = LinearConfig(schedule="step", milestones=(2, 3), warmup_epochs=1)
    factor = lr_factor(config, steps_per_epoch=4)
    assert [factor(s) for s in (0, 2, 4, 7, 8, 11, 12)] == pytest.approx([0.0, 0.5, 1.0, 1.0, 0.1, 0.1, 0.01])
    with pytest.raises(ConfigError, match="linear.schedule: unknown schedule 'linear'"):
        lr_factor(LinearConfig(schedule="linear"), 4)
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat(8)
    train = torch.eye(3)[labels][:, None] * 3 + 0.3 * torch.randn(24, 2, 3, generator=generator)
    scores = train_linear_probe(train, labels, train, 3, LinearConfig(epochs=20, lr=0.05, optimizer="adam",
                                                                      standardize=False))
    assert topk_accuracy(scores, labels) == 100.0


def test_every_eval_preset_loads_and_names_its_source():
    presets = sorted(PRESET_DIR.glob("eval/*.yaml"))
    assert {"severe_finetune", "severe_linear", "rho_finetune_ucf101", "rho_linear_k400", "pace_finetune",
            "pace_retrieval"} <= {p.stem for p in presets}
    for path in presets:
        load_config(EvalConfig, path.stem, "eval", [])
        text = path.read_text()
        assert text.startswith("#") and (path.stem.startswith("synthetic_") or "Table" in text or "§" in text), path.stem
    severe = load_config(EvalConfig, "severe_finetune", "eval", [])
    assert (severe.finetune.optimizer, severe.finetune.lr, severe.finetune.epochs, severe.finetune.milestones) == \
        ("adam", 1e-4, 160, (60, 100, 140))
    assert load_config(EvalConfig, "severe_finetune_low_shot", "eval", []).data.train_subset == 1000
    rho = load_config(EvalConfig, "rho_finetune_ucf101", "eval", [])
    assert (rho.data.num_clips, rho.data.crops, rho.data.test_crop_size) == (10, 3, 256)
    assert load_config(EvalConfig, "pace_finetune", "eval", []).finetune.lr == 0.003


def test_results_summary_over_seeds(first_run):
    _, results, _ = first_run
    knn = [row for row in summarise(results) if row.protocol == "knn" and row.metric == "top1"]
    assert len(knn) == 2 and all(row.seeds == 2 for row in knn)


def test_aslan_protocol_reads_the_pair_file_and_separates_identical_pairs(micro_manifest, tmp_path):
    """ASLAN-style manifest: 8 videos in split ``all``, pairs over 2 folds. A video paired with itself (same = 1)
    has distance 0 on all 12 measures while two different videos (same = 0) do not: the SVM gets every fold right.
    One pair names an unreadable video and is left out, not fatal."""
    from vssl.data.formats.aslan import Pair, write_pairs
    from vssl.data.manifest import Sample, write_manifest

    videos = read_manifest(micro_manifest, split="test")[:8]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    samples = [Sample(s.path, "all", s.labels) for s in videos] + [Sample(str(broken), "all", videos[0].labels)]
    manifest = tmp_path / "aslan.csv"
    write_manifest(samples, manifest)
    pairs = []
    for fold in (1, 2):
        for i in range(4):
            a = videos[4 * (fold - 1) + i].path
            b = videos[4 * (fold - 1) + (i + 1) % 4].path
            pairs += [Pair(fold, a, a, True), Pair(fold, a, b, False)]
    write_pairs(pairs + [Pair(1, str(broken), videos[0].path, False)], manifest)
    config = micro_eval_config(manifest, tmp_path, "data.train_split=all", "data.test_split=all", "data.labels=[appearance]",
                     "svm.protocol=aslan", "svm.aslan_taps=[layer2,layer3,layer4]")
    results = run_eval(["svm"], config)
    assert [(r.protocol, r.label, r.metric, r.value) for r in results] == [("svm@aslan", "same", "accuracy", 100.0)]


def test_unknown_svm_protocol_names_the_key(micro_manifest, tmp_path):
    with pytest.raises(ConfigError, match="svm.protocol.*loo"):
        run_eval(["svm"], micro_eval_config(micro_manifest, tmp_path, "svm.protocol=loo"))


def test_unset_splits_come_from_the_imported_dataset(micro_manifest, tmp_path):
    """An imported dataset reports on its own split (e.g. SSv2 'val'); without a sidecar: train / test."""
    import dataclasses

    from vssl.app.evaluate import EvalDataConfig, with_dataset_splits
    from vssl.data.formats.common import DatasetInfo, write_dataset_info
    from vssl.data.manifest import Sample, write_manifest

    manifest = tmp_path / "m.csv"
    write_manifest([Sample(s.path, {"train": "training", "test": "val"}.get(s.split, s.split), s.labels)
                    for s in read_manifest(micro_manifest)], manifest)
    assert (with_dataset_splits(EvalDataConfig(manifest=str(manifest))).train_split,
            with_dataset_splits(EvalDataConfig(manifest=str(manifest))).test_split) == ("train", "test")
    write_dataset_info(DatasetInfo("ssv2", {}, False, {}, train_split="training", test_split="val"), manifest)
    resolved = with_dataset_splits(EvalDataConfig(manifest=str(manifest)))
    assert (resolved.train_split, resolved.test_split) == ("training", "val")
    explicit = with_dataset_splits(dataclasses.replace(resolved, train_split="", test_split="training"))
    assert explicit.test_split == "training"
    results = run_eval(["knn"], micro_eval_config(manifest, tmp_path))
    assert {r.split for r in results} == {"val"}
