"""Kumar et al. 2023's study presets: nested pre-training subsets, epoch encoders, own benchmarks, teacher runs."""

import random
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from conftest import MICRO_PRETRAIN

from vssl.app.pretrain import PretrainConfig, epoch_encoder_path, run_pretrain
from vssl.app.study import (Benchmark, StudyConfig, StudyRun, check_runs, evaluation_benchmarks, finished,
                            load_study, pretraining_manifest, resolve_run_references, run_encoders, run_order,
                            run_overrides, run_study, synthetic_folders)
from vssl.core.config import PRESET_DIR, load_config
from vssl.core.errors import ConfigError, VsslError
from vssl.data.manifest import Sample
from vssl.data.pool_subsets import nested_balanced_subset
from vssl.results.store import ResultStore

SOURCES = {"kumar_data_size": "Kumar et al. 2023 (Table 2", "kumar_epochs": "Kumar et al. 2023 (Table 3",
           "kumar_complexity": "Kumar et al. 2023 (Table 4", "kumar_distribution": "Kumar et al. 2023 (Fig. 4",
           "kumar_kd": "Kumar et al. 2023 (§4.6, Fig. 5"}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_preset_names_its_source_and_gives_every_run_one_budget(name, tmp_path):
    assert (PRESET_DIR / "study" / f"{name}.yaml").read_text().startswith(f"# {SOURCES[name]}")
    study = load_study(name)
    assert study.seeds == 3 and 0 < study.minutes <= 60 and study.references == ("random",)
    order = check_runs(study, tmp_path)
    epochs = {load_config(PretrainConfig, study.runs[run].preset, "pretrain",
                          run_overrides(study, run, tmp_path, 0)).train.epochs for run in order}
    assert len(epochs) == 1  # equal ground


def test_the_data_size_runs_are_nested_subsets_and_the_epoch_runs_save_their_stages(tmp_path):
    sizes = {load_config(PretrainConfig, r.preset, "pretrain", list(r.overrides)).data.subset
             for r in load_study("kumar_data_size").runs.values()}
    assert sizes == {400, 1200, 2000}
    study = load_study("kumar_epochs")
    for name in study.runs:
        config = load_config(PretrainConfig, study.runs[name].preset, "pretrain",
                             run_overrides(study, name, tmp_path, 0))
        assert config.train.epochs == 4 and config.train.save_encoders_at == (1, 2, 3)
        names = [encoder for encoder, _ in run_encoders(name, study.runs[name], tmp_path)]
        assert names == [f"{name}@{k}" for k in (1, 2, 3)] + [name]


def _pool(sizes: dict[str, int]) -> list[Sample]:
    return [Sample(f"/v/{label}{i}.mp4", "pretrain", {"motion": label, "appearance": "x"})
            for label, n in sizes.items() for i in range(n)]


def test_nested_subsets_by_hand():
    pool = _pool({"a": 4, "b": 4, "c": 2})
    subsets = {n: nested_balanced_subset(pool, "motion", n, seed=3) for n in range(1, 11)}
    for n in range(1, 10):  # every smaller subset lies inside every larger one
        assert {s.path for s in subsets[n]} < {s.path for s in subsets[n + 1]}
    counts = {n: Counter(s.labels["motion"] for s in subset) for n, subset in subsets.items()}
    assert set(counts[3].values()) == {1} and set(counts[6].values()) == {2}
    assert sorted(counts[5].values()) == [1, 2, 2]  # floor(5/3) each, one more for 2 classes
    assert counts[8] == {"a": 3, "b": 3, "c": 2} and counts[9]["c"] == 2  # c has run out: a and b give the rest
    assert [s.path for s in subsets[10]] == [s.path for s in pool]  # the whole pool, in manifest order
    shuffled = random.Random(0).sample(pool, len(pool))  # the manifest's row order does not matter
    assert {s.path for s in nested_balanced_subset(shuffled, "motion", 5, seed=3)} == {s.path for s in subsets[5]}
    draws = {frozenset(s.path for s in nested_balanced_subset(pool, "motion", 3, seed)) for seed in range(8)}
    assert len(draws) > 1  # the subset seed draws
    with pytest.raises(VsslError, match="between 1 and"):
        nested_balanced_subset(pool, "motion", 11, seed=0)
    with pytest.raises(VsslError, match="no label 'label'"):
        nested_balanced_subset(pool, "label", 2, seed=0)


def test_save_encoders_at_writes_each_stage_of_one_run_on_its_subset(micro_manifest, tmp_path):
    run = run_pretrain(load_config(PretrainConfig, "vcop_tiny", "pretrain", [
        f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path / 'run'}", *MICRO_PRETRAIN, "train.epochs=2",
        "train.save_encoders_at=[1,2]", "data.subset=8", "data.subset_seed=1"]))
    stages = [torch.load(epoch_encoder_path(run, e), weights_only=True)["state_dict"] for e in (1, 2)]
    final = torch.load(run / "encoder.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(final[k], stages[1][k]) for k in final)  # after the last epoch: the final encoder
    assert not all(torch.equal(final[k], stages[0][k]) for k in final)
    assert (run / "summary.json").read_text().count('"videos": 8') == 1  # the balanced subset of 8 of 16
    with pytest.raises(ConfigError, match="save_encoders_at: epoch 3 lies beyond train.epochs=2"):
        load_config(PretrainConfig, "vcop_tiny", "pretrain", ["train.epochs=2", "train.save_encoders_at=[3]"])


def test_teacher_references_resolve_to_the_same_seed_and_teachers_train_first(tmp_path):
    runs = {"student": StudyRun("kd_world32", ("method.teachers=['${run:b}','${run:a}']",)),
            "a": StudyRun("vcop_world32"), "b": StudyRun("cvrl_world32", ("train.epochs=1",))}
    assert run_order(runs) == ["b", "a", "student"]
    assert resolve_run_references(runs["student"].overrides, tmp_path, 2) == [
        f"method.teachers=['{tmp_path}/pretrain/b/seed2/encoder.pt','{tmp_path}/pretrain/a/seed2/encoder.pt']"]
    config = load_config(PretrainConfig, "kd_world32", "pretrain", run_overrides(
        StudyConfig(runs=runs), "student", tmp_path, 2))
    assert config.method["teachers"] == [str(tmp_path / "pretrain" / n / "seed2" / "encoder.pt") for n in "ba"]
    with pytest.raises(ConfigError, match=r"runs.student: \$\{run:c\} names no run of this study"):
        run_order({**runs, "student": StudyRun("kd_world32", ("method.teachers=['${run:c}']",))})
    with pytest.raises(ConfigError, match="in a cycle: student → a → student"):
        run_order({**runs, "a": StudyRun("kd_world32", ("method.teachers=['${run:student}']",))})


def test_a_run_with_its_own_benchmark_and_several_evaluation_benchmarks_plans(tmp_path):
    study = StudyConfig(synthetic="world32", eval_synthetic=("world32", "world32_domain2"),
                        runs={"here": StudyRun("vcop_world32"),
                              "there": StudyRun("vcop_world32", ("data.split=train",), synthetic="world32_domain2")})
    data = tmp_path / "data"
    assert synthetic_folders(study, tmp_path, "world32") == {"world32": data,
                                                            "world32_domain2": data / "world32_domain2"}
    assert evaluation_benchmarks(study, tmp_path, "world32") == [
        Benchmark(data / "manifest.csv", "synthetic_world32"),
        Benchmark(data / "world32_domain2" / "manifest.csv", "synthetic_world32_domain2")]
    assert pretraining_manifest(study, study.runs["here"], tmp_path, "world32") == data / "manifest.csv"
    assert pretraining_manifest(study, study.runs["there"], tmp_path, "world32") == (
        data / "world32_domain2" / "manifest.csv")
    plain = StudyConfig(synthetic="world32", runs={"here": StudyRun("vcop_world32")})  # as every study before
    assert synthetic_folders(plain, tmp_path, "world32") == {"world32": data}
    assert evaluation_benchmarks(plain, tmp_path, "world32") == [Benchmark(data / "manifest.csv", "synthetic_world32")]
    manifest = StudyConfig(manifest="m/manifest.csv", runs=plain.runs)
    assert synthetic_folders(manifest, tmp_path, "") == {}
    assert evaluation_benchmarks(manifest, tmp_path, "") == [Benchmark(Path("m/manifest.csv"))]
    assert Benchmark(Path("m.csv")).overrides() == ["data.manifest=m.csv"]


def test_epochs_evaluated_must_precede_the_last_and_be_saved(tmp_path):
    study = StudyConfig(pretrain_overrides=("train.epochs=2",),
                        runs={"vcop": StudyRun("vcop_world32", epochs_evaluated=(1, 2))})
    with pytest.raises(ConfigError, match="epochs_evaluated: epoch 2 is not before the run's last"):
        check_runs(study, tmp_path)
    (tmp_path / "encoder.pt").write_bytes(b"")
    with pytest.raises(VsslError, match="encoder_epoch1.pt is missing"):
        finished(tmp_path, run_encoders("vcop", StudyRun("vcop_world32", epochs_evaluated=(1,)), tmp_path))


def test_a_study_trains_teachers_first_and_evaluates_each_stage_once(micro_manifest, tmp_path):
    study = StudyConfig(manifest=str(micro_manifest), seeds=1, references=(), protocols=("knn",),
                        pretrain_overrides=(*MICRO_PRETRAIN, "train.epochs=2"), eval_preset="synthetic_tiny",
                        eval_overrides=("data.clip_len=4", "data.num_clips=2", "data.crop_size=24",
                                        "data.short_side=24", "data.num_workers=0", "encoder.width=0.125",
                                        "encoder.depth=[1,1,1,1]", "knn.k=3", "data.labels=[motion]"),
                        runs={"student": StudyRun("kd_world32", ("method.teachers=['${run:teacher}']",)),
                              "teacher": StudyRun("vcop_tiny", epochs_evaluated=(1,))})
    run_study(study, tmp_path, progress=False)
    stored = ResultStore(tmp_path / "results.sqlite").query()
    assert {r.encoder for r in stored} == {"teacher@1", "teacher", "student"}
    student = yaml.safe_load((tmp_path / "pretrain" / "student" / "seed0" / "config.yaml").read_text())
    assert student["method"]["teachers"] == [str(tmp_path / "pretrain" / "teacher" / "seed0" / "encoder.pt")]
    encoders = sorted((tmp_path / "pretrain").glob("*/seed0/encoder*.pt"))
    stamps = [path.stat().st_mtime_ns for path in encoders]
    run_study(study, tmp_path, progress=False)  # resumed: nothing trains or is evaluated again
    assert [path.stat().st_mtime_ns for path in encoders] == stamps and len(encoders) == 3
    assert len(ResultStore(tmp_path / "results.sqlite").query()) == len(stored)
