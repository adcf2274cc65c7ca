"""A `vssl pretrain` process SIGKILLed in the middle of epoch 1 and resumed with train.resume=true ends bit-identical
to an uninterrupted run: every tensor of encoder.pt and of the method state in last.ckpt."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from vssl.app.pretrain import PretrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.models.checkpoints import read_checkpoint

STEPS_PER_EPOCH = 4  # 16 pre-training videos of the micro benchmark, 4 per batch
SMALL = ["train.epochs=2", "train.batch_size=4", "train.progress=true", "model.width=0.125",
         "model.depth=[1,1,1,1]", "method.queue_size=32", "method.proj_hidden=32", "data.clip_len=4",
         "data.stride=2", "data.crop_size=24", "data.short_side=[26,30]"]


def _command(manifest, out, extra):
    return [sys.executable, "-m", "vssl.app.cli", "pretrain", "rho_moco_tiny", f"data.manifest={manifest}",
            f"train.out_dir={out}", *SMALL, *extra]


def _run(manifest, out, extra):
    done = subprocess.run(_command(manifest, out, extra), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _kill_in_epoch_1(manifest, out, extra, batches):
    """Start a run, SIGKILL it once its progress bar shows ``batches`` done batches of epoch 1."""
    process = subprocess.Popen(_command(manifest, out, extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen, reached = bytearray(), threading.Event()
    pattern = re.compile(rb"Epoch 1: .*?\b(\d+)/%d" % STEPS_PER_EPOCH)

    def watch():  # the bar redraws with \r on stderr after every batch
        while chunk := process.stderr.read1(4096):
            seen.extend(chunk)
            if any(int(n) >= batches for n in pattern.findall(bytes(seen[-4096:]))):
                reached.set()
                return

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    assert reached.wait(timeout=600), seen.decode(errors="replace")[-2000:].replace("\r", "\n")
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    process.stderr.close()


def _tensors(run):
    encoder = read_checkpoint(run / "encoder.pt")["state_dict"]
    last = read_checkpoint(run / "checkpoints" / "last.ckpt")
    momenta = {f"momentum/{k}": s["momentum_buffer"] for k, s in last["optimizer_states"][0]["state"].items()}
    return {f"encoder/{k}": v for k, v in encoder.items()} | {f"method/{k}": v for k, v in last["state_dict"].items()} \
        | momenta, last


@pytest.fixture(scope="module")
def straight(micro_manifest, tmp_path_factory):
    """The uninterrupted run per data-worker count (in this process: only the killed one needs its own)."""
    runs = {}

    def run(workers):
        if workers not in runs:
            out = tmp_path_factory.mktemp("straight") / "run"
            overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={out}", f"data.num_workers={workers}",
                         *SMALL, "train.progress=false"]
            run_pretrain(load_config(PretrainConfig, "rho_moco_tiny", "pretrain", overrides))
            runs[workers] = _tensors(out)
        return runs[workers]
    return run


@pytest.mark.parametrize("workers, every", [
    (1, 0),  # from the epoch-0 checkpoint (step 4): epoch 1 replayed from its start (the reported setting)
    (0, 1),  # from the newest step checkpoint inside epoch 1 (step 5, 6 or 7 = after batch 1, 2 or 3 of 4)
])
def test_killed_mid_epoch_and_resumed_run_is_bit_identical(micro_manifest, tmp_path, straight, workers, every):
    expected, expected_last = straight(workers)
    started = time.monotonic()
    out = tmp_path / "run"
    extra = [f"data.num_workers={workers}", f"train.checkpoint_every_steps={every}"]
    _kill_in_epoch_1(micro_manifest, out, extra, batches=2)
    assert not (out / "encoder.pt").exists()
    step = read_checkpoint(out / "checkpoints" / "last.ckpt")["global_step"]
    mid_epoch_1 = step % max(every, 1) == 0 and STEPS_PER_EPOCH < step < 2 * STEPS_PER_EPOCH
    assert step == STEPS_PER_EPOCH if every == 0 else mid_epoch_1
    stdout = _run(micro_manifest, out, [*extra, "train.resume=true"])
    assert f"resuming {out} from epoch 1, step {step} ({out / 'checkpoints' / 'last.ckpt'})" in stdout
    got, last = _tensors(out)
    assert last["global_step"] == expected_last["global_step"] == 2 * STEPS_PER_EPOCH
    assert set(got) == set(expected) and len([k for k in got if k.startswith("encoder/")]) > 20
    different = [k for k in expected if not torch.equal(expected[k], got[k])]
    assert different == []  # encoder, momentum encoder, heads, queue, queue pointer, BN statistics, SGD momenta
    assert last["lr_schedulers"][0]["last_epoch"] == 2 * STEPS_PER_EPOCH
    print(f"kill + resume took {time.monotonic() - started:.1f} s")
