"""Arrow of time (Thoker 2023, Ch. 4): exact frame indices forwards and backwards, and `vssl eval arrow` in a real
process, balanced over the same videos."""

import sqlite3
import subprocess
import sys

import torch

from vssl.evaluation.arrow_of_time import LinearFramesSampler


def test_eight_linearly_spread_frames_and_their_reverse():
    """48 frames: linspace(0, 47, 8) = 0, 6.71, 13.43, 20.14, 26.86, 33.57, 40.29, 47, rounded half up."""
    forward = LinearFramesSampler()(48, 16.0)
    assert forward == [[0, 7, 13, 20, 27, 34, 40, 47]]
    assert LinearFramesSampler(backward=True)(48, 16.0) == [[47, 40, 34, 27, 20, 13, 7, 0]]
    assert LinearFramesSampler(frames=3)(5, 16.0) == [[0, 2, 4]]
    assert LinearFramesSampler().key() != LinearFramesSampler(backward=True).key()  # cached apart


def test_vssl_eval_arrow_scores_every_test_video_both_ways(micro_manifest, tmp_path):
    store = tmp_path / "results.sqlite"
    args = [f"data.manifest={micro_manifest}", "data.labels=[motion]", "data.crop_size=24", "data.short_side=24",
            "data.num_workers=0", "encoder.width=0.125", "encoder.depth=[1,1,1,1]", "linear.epochs=3",
            f"store={store}", "progress=false"]
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "arrow", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(store) as db:
        rows = db.execute("select protocol, label, metric, value, n_videos from results where metric = 'top1'").fetchall()
        tests = db.execute("select count(*) from results").fetchone()[0]
    assert len(rows) == 1 and rows[0][:3] == ("arrow", "direction", "top1") and 0 <= rows[0][3] <= 100
    assert rows[0][4] == 2 * 16 and tests == 2  # 16 micro test videos, each forwards and backwards


def test_both_directions_pair_each_video_with_its_reverse(micro_manifest):
    """Item i is video i forwards (label 0), item N + i the same frames in reverse order (label 1)."""
    from vssl.app.arrow_of_time import direction_clips
    from vssl.app.evaluate import EvalData, EvalDataConfig

    data = EvalData(EvalDataConfig(manifest=str(micro_manifest), labels=("motion",), train_split="train",
                                   test_split="test", crop_size=24, short_side=24, num_workers=0), progress=False)
    both = direction_clips(data, data.test, training=False, seed=0)
    count = len(data.test)
    assert len(both) == 2 * count
    forward, backward = both[3], both[count + 3]
    assert (forward["labels"].tolist(), backward["labels"].tolist()) == ([0], [1])
    assert (forward["index"], backward["index"]) == (3, count + 3)
    assert forward["frames"].flip(-1).tolist() == backward["frames"].tolist()
    assert torch.equal(forward["clips"].flip(2), backward["clips"])  # [V, C, T, H, W]: time reversed, same pixels


def test_vssl_eval_arrow_finetune_trains_and_scores_both_ways(micro_manifest, tmp_path):
    store = tmp_path / "results.sqlite"
    args = [f"data.manifest={micro_manifest}", "data.labels=[motion]", "data.crop_size=24", "data.short_side=24",
            "data.num_workers=0", "encoder.width=0.125", "encoder.depth=[1,1,1,1]", "finetune.epochs=1",
            "finetune.batch_size=8", f"store={store}", "progress=false"]
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "arrow_finetune", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(store) as db:
        rows = db.execute("select protocol, label, value, n_videos from results where metric = 'top1'").fetchall()
    assert len(rows) == 1 and rows[0][:2] == ("arrow_finetune", "direction") and 0 <= rows[0][2] <= 100
    assert rows[0][3] == 2 * 16
