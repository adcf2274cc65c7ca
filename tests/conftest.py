"""Shared fixtures: a very small synthetic benchmark written once per test session."""

import pytest
import torch

from vssl.app.evaluate import EvalConfig
from vssl.core.config import load_config
from vssl.data.synthetic import SynthConfig, generate

torch.set_num_threads(1)  # tiny models gain nothing from more threads; the loader's workers need the cores

MICRO = SynthConfig(name="micro", size=32, num_frames=24, fps=8.0,
                    counts={"pretrain": 16, "train": 16, "test": 16},
                    motion_classes=("horizontal", "vertical"), appearance_classes=("disk", "square"))


@pytest.fixture(scope="session")
def micro_manifest(tmp_path_factory):
    """Manifest of a 48-video synthetic benchmark (32×32 px, 24 frames at 8 fps)."""
    return generate(tmp_path_factory.mktemp("micro"), preset=MICRO, seed=0, workers=1, progress=False)


def micro_eval_config(manifest, tmp, *extra) -> EvalConfig:
    """`vssl eval` settings for the micro benchmark: both label sets, 2 clips of 4 frames at 24², a tiny R3D."""
    return load_config(EvalConfig, None, "eval", [
        f"data.manifest={manifest}", "data.labels=[motion,appearance]", "data.clip_len=4", "data.stride=2",
        "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0", "data.batch_size=16",
        f"store={tmp / 'results.sqlite'}", "progress=false", "linear.epochs=3", "encoder.width=0.125",
        "encoder.depth=[1,1,1,1]", *extra])


MICRO_PRETRAIN = ["train.batch_size=4", "train.progress=false", "model.width=0.125", "model.depth=[1,1,1,1]",
                  "data.clip_len=4", "data.stride=2", "data.crop_size=24", "data.short_side=[26,30]",
                  "data.num_workers=0", "train.epochs=1"]


def one_epoch_losses(manifest, out, preset: str, *extra: str) -> list[float]:
    """Pre-train ``preset`` for one epoch on the micro benchmark through `run_pretrain` (a small tiny R3D; ``extra``
    overrides win); → the logged per-step losses, after checking the run wrote its encoder."""
    import csv

    from vssl.app.pretrain import PretrainConfig, run_pretrain

    run = run_pretrain(load_config(PretrainConfig, preset, "pretrain",
                                   [f"data.manifest={manifest}", f"train.out_dir={out}", *MICRO_PRETRAIN, *extra]))
    assert (run / "encoder.pt").is_file()
    with open(next(run.glob("logs/version_*/metrics.csv"))) as file:
        return [float(row["train/loss_step"]) for row in csv.DictReader(file) if row.get("train/loss_step")]
