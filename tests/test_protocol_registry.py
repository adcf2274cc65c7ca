"""The protocol registry: the CLI lists it, a new protocol needs no app code, and `run_eval` reads a checkpoint once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import vssl.app.evaluate
from vssl.app.evaluate import EncoderConfig, EncoderSource, run_eval
from vssl.evaluation.metrics import classification_metrics
from vssl.evaluation.protocols import FROZEN, protocol_names, register, unregister
from vssl.models.checkpoints import load_any_encoder, save_encoder
from vssl.models.spec import EncoderSpec
from vssl.models.registry import build_backbone

from conftest import micro_eval_config

TINY = {"width": 0.125, "depth": (1, 1, 1, 1)}


def _checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    save_encoder(tmp_path / "encoder.pt", build_backbone("r3d_18", **TINY), EncoderSpec("r3d_18", TINY))
    return tmp_path / "encoder.pt"


def test_cli_help_lists_every_registered_protocol_without_loading_torch():
    vssl = Path(sys.executable).with_name("vssl")
    out = subprocess.run([str(vssl), "eval", "--help"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    listed = out.stdout.split("comma-separated:", 1)[1].split("\n  preset", 1)[0]  # the help may wrap the list
    assert [name.strip() for name in listed.split(",")] == list(protocol_names())
    assert {"knn", "linear", "retrieval", "svm", "finetune"} <= set(protocol_names())
    code = "import sys; from vssl.app.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout == "False\n"


def nearest_mean(x_train, y_train, x_test, y_test, num_classes, section, seed, placement):
    """Class-mean classifier: each test video goes to the class whose mean training feature is most cosine-similar."""
    train, test = F.normalize(x_train.mean(dim=1), dim=1), F.normalize(x_test.mean(dim=1), dim=1)
    means = torch.stack([train[y_train == c].mean(dim=0) for c in range(num_classes)])
    return classification_metrics(test @ F.normalize(means, dim=1).t(), y_test)


def test_a_registered_protocol_runs_without_app_code(micro_manifest, tmp_path):
    register("nearest_mean", nearest_mean)
    try:
        assert "nearest_mean" in protocol_names()
        results = run_eval(["knn", "nearest_mean"], micro_eval_config(micro_manifest, tmp_path))
    finally:
        unregister("nearest_mean")
    assert "nearest_mean" not in FROZEN
    mine = [r for r in results if r.protocol == "nearest_mean"]
    assert {(r.label, r.metric) for r in mine} == {(label, metric) for label in ("motion", "appearance")
                                                   for metric in ("top1", "mean_class_acc")}
    assert all(r.n_videos == 16 and 0.0 <= r.value <= 100.0 for r in mine)
    assert {r.protocol for r in results} == {"knn", "nearest_mean"}


def test_run_eval_reads_the_checkpoint_once_and_builds_nothing_from_the_cache(micro_manifest, tmp_path, monkeypatch):
    loads, builds = [], []

    def counting_load(*args, **kwargs):
        loads.append(args[0])
        return load_any_encoder(*args, **kwargs)

    def counting_encoder(self, seed):
        builds.append(seed)
        return original_encoder(self, seed)

    original_encoder = EncoderSource.encoder
    monkeypatch.setattr(vssl.app.evaluate, "load_any_encoder", counting_load)
    monkeypatch.setattr(EncoderSource, "encoder", counting_encoder)
    config = micro_eval_config(micro_manifest, tmp_path, f"encoder.checkpoint={_checkpoint(tmp_path)}", "seeds=2")
    first = run_eval(["knn", "linear"], config)
    assert len(loads) == 1 and builds == [0]  # seed 1 reads seed 0's features: the checkpoint's do not depend on it
    again = run_eval(["knn", "linear"], config)
    assert len(loads) == 2 and builds == [0]  # once per call; every feature from the cache
    assert [(r.protocol, r.label, r.metric, r.seed, r.value) for r in again] == \
        [(r.protocol, r.label, r.metric, r.seed, r.value) for r in first]


@pytest.mark.parametrize("partial", [False, True], ids=["ours", "foreign_with_missing_tensors"])
def test_an_encoder_of_a_checkpoint_draws_what_loading_it_draws(tmp_path, partial):
    path = _checkpoint(tmp_path)
    if partial:  # another tool's file lacking one conv: its tensors are drawn at random, as a load draws them
        state = {k: v for k, v in build_backbone("r3d_18", **TINY).state_dict().items()
                 if not k.startswith("layer4.0.conv2")}
        path = tmp_path / "partial.pth"
        torch.save(state, path)
    source = EncoderSource(EncoderConfig(checkpoint=str(path), backbone="r3d_18", **TINY))
    torch.manual_seed(5)
    rebuilt, after_rebuild = source.encoder(5).state_dict(), torch.rand(4)
    torch.manual_seed(5)
    loaded, after_load = load_any_encoder(path, EncoderSpec("r3d_18", TINY))[0].state_dict(), torch.rand(4)
    assert torch.equal(after_rebuild, after_load)  # a fine-tuned head and dropout draw the same numbers
    assert rebuilt.keys() == loaded.keys() and all(torch.equal(rebuilt[k], loaded[k]) for k in loaded)
