"""Study grids: presets that load, runs × seeds trained once each, one table with mean ± std over seeds."""

import csv
import statistics

import pytest

from vssl.app.pretrain import PretrainConfig, resolve_method
from vssl.app.study import final_epoch_metrics, load_study, run_study
from vssl.core.config import PRESET_DIR, load_config
from vssl.core.errors import ConfigError
from vssl.methods.registry import get_method
from vssl.results.store import ResultStore

SMALL_PRETRAIN = ["train.batch_size=4", "method.queue_size=32", "method.proj_hidden=32", "model.width=0.125",
                  "data.clip_len=4", "data.stride=2", "data.crop_size=24", "data.short_side=[26,30]",
                  "data.num_workers=0", "train.epochs=1"]
SMALL_EVAL = ["data.clip_len=4", "data.num_clips=2", "data.crop_size=24", "data.short_side=24",
              "data.num_workers=0", "linear.epochs=5", "encoder.width=0.125", "knn.k=3"]


@pytest.mark.parametrize("name", sorted(p.stem for p in (PRESET_DIR / "study").glob("*.yaml")))
def test_every_study_preset_and_its_runs_load(name):
    study = load_study(name)
    assert study.runs and study.seeds >= 1
    for run_name, run in study.runs.items():
        config = load_config(PretrainConfig, run.preset, "pretrain", [*study.pretrain_overrides, *run.overrides])
        method, _, method_config = resolve_method(config)
        get_method(method)
        if run_name[-3:] in ("_r1", "_r2", "_r3", "_r4"):  # the ρ studies really vary ρ
            assert method_config.rho == int(run_name[-1])


def test_rho_study_is_the_grid_of_issue_four():
    study = load_study("rho_synthetic")
    methods = {load_config(PretrainConfig, r.preset, "pretrain", list(r.overrides)).method["name"]
               for r in study.runs.values()}
    assert methods == {"rho_moco", "rho_byol", "rho_simclr", "rho_swav"} and len(study.runs) == 8
    assert study.seeds == 3 and study.references == ("random",)


def test_a_study_trains_each_run_once_per_seed_and_tabulates(micro_manifest, tmp_path):
    preset = tmp_path / "mini.yaml"
    preset.write_text(f"""
manifest: {micro_manifest}
seeds: 2
pretrain_overrides: {SMALL_PRETRAIN}
eval_preset: synthetic_tiny
eval_overrides: {SMALL_EVAL}
protocols: [knn]
runs:
  moco: {{preset: rho_moco_tiny}}
""")
    study = load_study(str(preset))
    run_study(study, tmp_path / "out", progress=False)
    rows = list(csv.DictReader((tmp_path / "out" / "comparison.csv").read_text().splitlines()))
    # 2 encoders × 1 protocol × 2 label sets, each over 2 seeds
    assert len(rows) == 4 and all(row["seeds"] == "2" for row in rows)
    encoders = [tmp_path / "out" / "pretrain" / "moco" / f"seed{s}" / "encoder.pt" for s in (0, 1)]
    stamps = [e.stat().st_mtime_ns for e in encoders]
    rows = len(ResultStore(tmp_path / "out" / "results.sqlite").query())
    run_study(study, tmp_path / "out", progress=False)  # finished runs are not trained or evaluated again
    assert [e.stat().st_mtime_ns for e in encoders] == stamps
    assert len(ResultStore(tmp_path / "out" / "results.sqlite").query()) == rows
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    losses = [final_epoch_metrics(tmp_path / "out" / "pretrain" / "moco" / f"seed{s}")["train/loss_epoch"]
              for s in (0, 1)]
    mean, std = statistics.fmean(losses), statistics.stdev(losses)
    assert f"| moco | {mean:.2f} ± {std:.2f} | - |" in markdown  # ρMoCo logs no pretext accuracy


def test_study_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="seedz"):
        load_study("demo", ["seedz=2"])
    preset = tmp_path / "bad.yaml"
    preset.write_text("runs:\n  a: {preset: rho_moco_tiny, overides: []}\n")
    with pytest.raises(ConfigError, match="overides"):
        load_study(str(preset))


WORLD_METHOD_PRESETS = ("supervised", "rho_moco", "rho_byol", "rho_simclr", "rho_swav", "pace", "vcop", "rotnet3d",
                        "prp", "statistics")


def test_a_one_epoch_study_of_every_method_on_the_world_benchmark(tmp_path):
    """Every method's world32 preset trains one epoch through `vssl study` on a small world benchmark and is
    evaluated; the supervised run reads labels, the others do not."""
    import dataclasses

    from vssl.app.study import StudyConfig, StudyRun
    from vssl.data.synthetic import PRESETS

    small_world = dataclasses.replace(PRESETS["world32"], name="world32_mini",
                                      counts={"pretrain": 8, "train": 8, "test": 8})
    study = StudyConfig(seeds=1, eval_preset="synthetic_world", protocols=("knn",),
                        pretrain_overrides=("train.epochs=1", "train.batch_size=4", "model.width=0.125",
                                            "data.num_workers=0", "train.progress=false"),
                        eval_overrides=("data.num_workers=0", "knn.k=3", "encoder.width=0.125"),
                        runs={name: StudyRun(f"{name}_world32") for name in WORLD_METHOD_PRESETS})
    run_study(study, tmp_path / "out", progress=False, synthetic=small_world)
    stored = {r.encoder for r in ResultStore(tmp_path / "out" / "results.sqlite").query()}
    assert stored == {"random", *WORLD_METHOD_PRESETS}
    assert (tmp_path / "out" / "data" / "manifest.csv.clips").is_dir()  # the study decoded the videos once
    supervised = final_epoch_metrics(tmp_path / "out" / "pretrain" / "supervised" / "seed0")
    assert 0.0 <= supervised["train/pretext_acc_epoch"] <= 1.0
