"""What the CLI tells its user: presets and options in --help, study progress with an ETA, progress bars on stderr,
overrides after options, numeric metric order, and the demo table's chance line and difference column."""

import subprocess
import sys

import pytest

from vssl.app.cli import main
from vssl.app.progress import RunClock, format_duration
from vssl.app.study import load_study, run_study, write_tables
from vssl.results.store import Result, ResultStore

SMALL_PRETRAIN = ["train.batch_size=4", "method.queue_size=32", "method.proj_hidden=32", "model.width=0.125",
                  "model.depth=[1,1,1,1]", "data.clip_len=4", "data.stride=2", "data.crop_size=24",
                  "data.short_side=[26,30]", "data.num_workers=0", "train.epochs=1"]
SMALL_EVAL = ["data.clip_len=4", "data.num_clips=2", "data.crop_size=24", "data.short_side=24",
              "data.num_workers=0", "encoder.width=0.125", "encoder.depth=[1,1,1,1]", "knn.k=3"]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "vssl.app.cli", *args], capture_output=True, text=True, timeout=300)


def _help(capsys, *words) -> str:
    with pytest.raises(SystemExit):
        main([*words, "--help"])
    return capsys.readouterr().out


def test_help_lists_the_presets_and_describes_every_results_option(capsys):
    assert "rho_moco_tiny" in _help(capsys, "pretrain") and "vcop_world32" in _help(capsys, "pretrain")
    assert "synthetic_world" in _help(capsys, "eval") and "severe_linear" in _help(capsys, "eval")
    assert "world32" in _help(capsys, "data", "synth") and "tiny_fine" in _help(capsys, "data", "synth")
    results = _help(capsys, "results")
    for option in ("--store STORE", "--encoder ENCODER", "--protocol PROTOCOL", "--dataset DATASET",
                   "--metric METRIC"):
        line = next(line for line in results.splitlines() if line.strip().startswith(option))
        assert line.strip() != option, f"{option} has no description"


def test_study_help_gives_each_presets_runs_seeds_and_duration(capsys):
    study = _help(capsys, "study")
    demo = load_study("demo")
    line = next(line for line in study.splitlines() if line.strip().startswith("demo "))
    runs = len(demo.runs)
    assert f"{runs} run(s) × {demo.seeds} seed(s) = {runs * demo.seeds} pre-training runs" in line
    assert f"about {demo.minutes:g} min on 2 CPU cores" in line
    assert "rho_world32" in study and "pretext_synthetic" in study


def test_overrides_may_follow_seeds():
    result = _run("eval", "knn", "synthetic_tiny", "--seeds", "3", "data.num_clips=ten")
    assert result.returncode == 2 and "unrecognized arguments" not in result.stderr
    assert result.stderr.strip() == "error: data.num_clips: expected an integer, got 'ten'"
    result = _run("demo", "--seeds", "3", "seeds=0")  # a demo study key after --seeds; refused by its range
    assert result.returncode == 2 and result.stderr.strip() == "error: seeds=0 is out of range: expected >= 1"


def test_results_sorts_metrics_numerically(tmp_path):
    store = tmp_path / "results.sqlite"
    ResultStore(store).add([Result("r", "random", "retrieval@pool5", "d", "test", "label", metric, 10.0, 0, "h")
                            for metric in ("top1", "top10", "top20", "top5")])
    result = _run("results", "--store", str(store), "--format", "long")
    assert result.returncode == 0, result.stderr
    metrics = [line.split()[4] for line in result.stdout.splitlines()[2:]]
    assert metrics == ["top1", "top5", "top10", "top20"]
    result = _run("results", "--store", str(store))
    assert [line.split()[3] for line in result.stdout.splitlines()[2:]] == ["top1", "top5", "top10", "top20"]


def test_run_clock_numbers_runs_and_estimates_from_finished_ones(capsys):
    now = [0.0]
    clock = RunClock(4, clock=lambda: now[0])
    assert clock.start("vcop", 0, finished=True) == "run 1/4: vcop seed 0 (trained before)"
    clock.stop()
    assert clock.start("moco", 0) == "run 2/4: moco seed 0 (ETA after the first run)"
    now[0] += 120
    clock.stop()
    assert clock.start("vcop", 1) == "run 3/4: vcop seed 1 (ETA 4 min for 2 run(s))"  # 2 runs left × 120 s
    now[0] += 240
    clock.stop()
    assert clock.start("moco", 1) == "run 4/4: moco seed 1 (ETA 3 min for 1 run(s))"  # mean of 120 s and 240 s
    assert capsys.readouterr().out.splitlines()[-1] == "run 4/4: moco seed 1 (ETA 3 min for 1 run(s))"
    assert [format_duration(s) for s in (42, 420, 7500)] == ["42 s", "7 min", "2 h 05 min"]


def test_demo_table_has_one_seed_note_a_chance_line_and_a_difference_column(tmp_path, capsys):
    store = tmp_path / "results.sqlite"
    values = {"random": 25.0, "vcop": 40.0, "supervised": 90.0}
    ResultStore(store).add([Result("r", encoder, "knn", "d", "test", "motion", "top1", value, 0, "h")
                            for encoder, value in values.items()])
    table = write_tables(store, tmp_path, seeds=1, chance={"motion": 25.0}, versus="random")
    out = capsys.readouterr().out
    assert "video-level top-1 accuracy (%), seed 0:" in out and "mean ± std" not in out
    assert "chance (100 / number of classes): motion 25.0" in out
    header, _, line = table.splitlines()
    assert header.split()[-3:] == ["vcop", "−", "random"] and "supervised − random" not in header
    assert line.split()[-1] == "+15.0"  # vcop 40.0 − random 25.0
    write_tables(store, tmp_path, seeds=3)
    assert "mean ± std over seeds 0–2" in capsys.readouterr().out


@pytest.mark.slow
def test_a_study_prints_stages_and_numbered_runs(micro_manifest, tmp_path, capsys):
    preset = tmp_path / "mini.yaml"
    preset.write_text(f"manifest: {micro_manifest}\nseeds: 1\npretrain_overrides: {SMALL_PRETRAIN}\n"
                      f"eval_preset: synthetic_tiny\neval_overrides: {SMALL_EVAL}\nprotocols: [knn]\n"
                      "runs:\n  moco: {preset: rho_moco_tiny}\n")
    run_study(load_study(str(preset)), tmp_path / "out", progress=True)  # prints the table too
    out = capsys.readouterr().out.splitlines()
    assert out.index(f"== benchmark: {micro_manifest} ==") < out.index("run 1/1: moco seed 0 (ETA after the first run)")
    assert "== results ==" in out and "video-level top-1 accuracy (%), seed 0:" in out
    assert "chance (100 / number of classes): appearance 50.0, motion 50.0" in out  # 2 classes per label set
    run_study(load_study(str(preset)), tmp_path / "out", progress=False)
    assert "run 1/1: moco seed 0 (trained before)" in capsys.readouterr().out.splitlines()


@pytest.mark.slow
def test_progress_bars_go_to_stderr(micro_manifest, tmp_path):
    result = _run("pretrain", "rho_moco_tiny", f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path}",
                  "train.progress=true", *SMALL_PRETRAIN)
    assert result.returncode == 0, result.stderr
    assert "Epoch 0" in result.stderr and "Epoch 0" not in result.stdout
    assert result.stdout.strip().startswith("encoder: ")
