"""Bad inputs through the real CLI (subprocesses): each ends in exit code 2 with one line on stderr, no traceback,
and leaves existing outputs unchanged and no partial file; corrupt and odd videos are skipped and counted."""

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

# Runs the CLI; with VSSL_FAULT_ENOSPC=<text>, every file vssl.core.io writes whose name contains <text> gets half
# its bytes written and then "No space left on device", as a full disk would do.
RUN_CLI = """
import errno, os, sys
target = os.environ.get("VSSL_FAULT_ENOSPC")
if target:
    import builtins
    import vssl.core.io as io_module

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle
        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.handle.close()
        def __getattr__(self, name):
            return getattr(self.handle, name)

    def full_open(file, mode="r", *args, **kwargs):
        handle = builtins.open(file, mode, *args, **kwargs)
        return FullDisk(handle) if "w" in mode and target in os.path.basename(str(file)) else handle

    io_module.open = full_open
from vssl.app.cli import main
sys.argv[0] = "vssl"
main(sys.argv[1:])
"""

PRETRAIN = ["pretrain", "rho_simclr_tiny", "model.width=0.125", "train.batch_size=4", "train.epochs=1",
            "data.num_workers=0", "data.clip_len=4", "data.stride=2", "data.crop_size=24",
            "data.short_side=[26,30]", "train.progress=false"]
EVAL = ["eval", "knn", "synthetic_tiny", "encoder.width=0.125", "encoder.depth=[1,1,1,1]", "data.clip_len=4",
        "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0", "knn.k=3",
        "data.labels=[motion]", "progress=false"]
CORRUPT = ("videos/pretrain_00003.mp4", "videos/test_00002.mp4")  # 2 of the 40 generated videos: 5 %
ODD = ("videos/one_frame.mp4", "videos/tiny_8px.mp4")  # 1 frame of 32²; 24 frames of 8²


def start(*args: str, fault: str = "") -> subprocess.Popen:
    env = {**os.environ, "VSSL_FAULT_ENOSPC": fault, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-c", RUN_CLI, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def vssl(*args: str, fault: str = "") -> subprocess.CompletedProcess:
    """`vssl ARGS...` in a new process (with a simulated full disk for files named like ``fault``)."""
    return finish(start(*args, fault=fault))


def vssl_all(*commands: tuple) -> list[subprocess.CompletedProcess]:
    """Several `vssl` commands at once (each a tuple of arguments, optionally ending in a ``fault=`` dict)."""
    processes = [start(*c[:-1], **c[-1]) if isinstance(c[-1], dict) else start(*c) for c in commands]
    return [finish(p) for p in processes]


def one_line_error(run: subprocess.CompletedProcess, *names: str) -> str:
    """Exit code 2, one 'error:' line on stderr naming every ``names``, no traceback."""
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr
    for name in names:
        assert str(name) in errors[0], errors[0]
    return errors[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def partial_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name]


@pytest.fixture(scope="module")
def bad_dataset(tmp_path_factory):
    """40 tiny synthetic videos, 2 of them corrupt, plus a 1-frame and an 8×8 video in the pretrain and test splits."""
    from conftest import MICRO
    from vssl.data.synthetic import generate, write_mp4

    root = tmp_path_factory.mktemp("faulty")
    config = replace(MICRO, name="faulty", counts={"pretrain": 16, "train": 12, "test": 12})
    manifest = generate(root, preset=config, seed=0, workers=1, progress=False)
    for path in CORRUPT:
        (root / path).write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)  # an mp4 header, then junk
    rng = np.random.default_rng(0)
    write_mp4(rng.integers(0, 255, (1, 32, 32, 3), dtype=np.uint8), root / ODD[0], fps=8.0)
    write_mp4(rng.integers(0, 255, (24, 8, 8, 3), dtype=np.uint8), root / ODD[1], fps=8.0)
    with open(manifest, "a", newline="") as f:
        writer = csv.writer(f)
        for split in ("pretrain", "test"):
            for path in ODD:
                writer.writerow([path, split, "", "", "disk", "horizontal"])
    return manifest


@pytest.fixture(scope="module")
def trained(bad_dataset, tmp_path_factory):
    """One finished pre-training run on the faulty dataset."""
    out = tmp_path_factory.mktemp("run") / "simclr" / "seed0"
    run = vssl(*PRETRAIN, f"data.manifest={bad_dataset}", f"train.out_dir={out}")
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def test_corrupt_videos_are_skipped_and_counted_and_odd_videos_used(bad_dataset, trained, tmp_path):
    summary = json.loads((trained / "summary.json").read_text())
    skipped = set(summary["unreadable_at_index"]) | set(summary["skipped_while_training"])
    assert {Path(p).name for p in skipped} == {"pretrain_00003.mp4"}  # the odd videos trained
    assert summary["videos"] == 16 + len(ODD) - 1  # readable pre-training videos
    store = tmp_path / "results.sqlite"
    run = vssl(*EVAL, f"data.manifest={bad_dataset}", f"encoder.checkpoint={trained / 'encoder.pt'}",
               f"store={store}", f"feature_cache={tmp_path / 'features'}")
    assert run.returncode == 0, run.stderr[-3000:]
    from vssl.results import load

    rows = load(store)
    assert rows and {r.n_videos for r in rows} == {12 - 1 + len(ODD)}  # test videos: 1 corrupt, 2 odd
    assert {r.n_skipped for r in rows} == {1}
    assert {r.encoder for r in rows} == {"simclr/seed0"}
    table = vssl("results", "--store", store)
    assert table.returncode == 0 and table.stderr == ""
    header, _, first = table.stdout.splitlines()[:3]
    assert header.split()[:5] == ["dataset", "label", "protocol", "metric", "n"] and first.split()[4] == "13"


def test_unwritable_output_paths_fail_in_one_line(bad_dataset, tmp_path):
    in_the_way = tmp_path / "a_file"
    in_the_way.write_text("keep me")
    not_a_store = tmp_path / "notes.sqlite"
    not_a_store.write_text("not a database\n" * 50)
    outs = ("/proc/vssl_run", in_the_way / "run")
    stores = (not_a_store, "/proc/vssl/results.sqlite", in_the_way / "results.sqlite")
    runs = vssl_all(*[(*PRETRAIN, f"data.manifest={bad_dataset}", f"train.out_dir={out}") for out in outs],
                    *[(*EVAL, f"data.manifest={bad_dataset}", f"store={store}", "feature_cache=none")
                      for store in stores],
                    ("results", "--store", not_a_store))
    for run, path in zip(runs, [*outs, *stores, not_a_store]):
        one_line_error(run, path)
    assert in_the_way.read_text() == "keep me" and not_a_store.read_text() == "not a database\n" * 50
    assert not Path("/proc/vssl_run").exists()


def test_reading_a_missing_store_creates_nothing(tmp_path):
    missing = tmp_path / "missing_dir" / "x.sqlite"
    line = one_line_error(vssl("results", "--store", missing), missing)
    assert line == f"error: no results store at {missing}"
    assert not (tmp_path / "missing_dir").exists()


def test_a_full_disk_while_pretraining_leaves_old_files_and_no_partial_ones(bad_dataset, tmp_path):
    old = {"encoder.pt": b"an older encoder", "summary.json": b'{"older": true}'}
    targets = (".ckpt", "encoder.pt", "summary.json")  # a checkpoint (the first: epoch 0's), encoder.pt, summary.json
    for target in targets:
        (tmp_path / target).mkdir()
        for name, data in old.items():
            (tmp_path / target / name).write_bytes(data)
    runs = vssl_all(*[(*PRETRAIN, f"data.manifest={bad_dataset}", f"train.out_dir={tmp_path / target}",
                       {"fault": target}) for target in targets])
    for target, run in zip(targets, runs):
        out = tmp_path / target
        one_line_error(run, "No space left on device", out / "checkpoints" if target == ".ckpt" else out / target)
        unchanged = old if target == ".ckpt" else {target: old[target]}  # what the run failed to replace
        assert {name: (out / name).read_bytes() for name in unchanged} == unchanged  # not truncated, not replaced
        assert partial_files(out) == []
    assert not list((tmp_path / ".ckpt" / "checkpoints").glob("*.ckpt"))


def test_a_full_disk_while_caching_features_leaves_no_partial_file(bad_dataset, trained, tmp_path):
    cache, store = tmp_path / "features", tmp_path / "results.sqlite"
    run = vssl(*EVAL, f"data.manifest={bad_dataset}", f"encoder.checkpoint={trained / 'encoder.pt'}",
               f"store={store}", f"feature_cache={cache}", fault="pool-")
    one_line_error(run, "No space left on device", cache)
    assert list(cache.iterdir()) == []


def test_a_poisoned_last_checkpoint_is_refused_in_one_line(bad_dataset, trained, tmp_path):
    import torch

    class Payload:  # what a malicious checkpoint does: run a function while being unpickled
        def __reduce__(self):
            return (print, ("this ran while unpickling",))

    out = tmp_path / "run"
    shutil.copytree(trained, out)
    last = out / "checkpoints" / "last.ckpt"
    torch.save({"state_dict": {}, "payload": Payload()}, last)
    before = snapshot(out)
    run = vssl(*PRETRAIN, f"data.manifest={bad_dataset}", f"train.out_dir={out}", "train.resume=true")
    line = one_line_error(run, last)
    assert "weights_only=False" not in run.stderr + run.stdout and "this ran" not in run.stdout
    assert "refused" in line
    kept = ("encoder.pt", "summary.json", "checkpoints")  # the run's outputs (config.yaml and logs are rewritten)
    assert {k: v for k, v in snapshot(out).items() if k.startswith(kept)} == \
           {k: v for k, v in before.items() if k.startswith(kept)}
