"""End to end at a small size: pre-train, resume, evaluate (kNN, linear, fine-tune), store, demo table."""

import csv
import json

import pytest
import torch

from vssl.app.evaluate import EvalConfig, run_eval
from vssl.app.pretrain import PretrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.models.checkpoints import load_encoder, read_checkpoint
from vssl.results.store import ResultStore

SMALL_MODEL = ["model.width=0.125", "model.depth=[1,1,1,1]"]
SMALL_CLIPS = ["data.clip_len=4", "data.stride=2", "data.crop_size=24", "data.short_side=[26,30]",
               "data.num_workers=0"]


def _pretrain(manifest, out, epochs, resume=False):
    overrides = [f"data.manifest={manifest}", f"train.out_dir={out}", f"train.epochs={epochs}",
                 "train.batch_size=4", "train.progress=false", f"train.resume={str(resume).lower()}",
                 "method.queue_size=32", "method.proj_hidden=32", *SMALL_MODEL, *SMALL_CLIPS]
    return run_pretrain(load_config(PretrainConfig, "rho_moco_tiny", "pretrain", overrides))


@pytest.mark.slow
def test_pretrain_resume_and_evaluate(micro_manifest, tmp_path):
    run = _pretrain(micro_manifest, tmp_path / "run", epochs=1)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["videos"] == 16  # 16 pre-training videos / batch 4
    first = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert first["vssl"]["backbone"] == "r3d_18" and "queue" in first["state_dict"]
    assert int(first["state_dict"]["queue_pointer"]) == (4 * 4 * 2) % 32  # 4 steps × 4 videos × ρ=2 keys

    run = _pretrain(micro_manifest, tmp_path / "run", epochs=2, resume=True)
    assert json.loads((run / "summary.json").read_text())["steps"] == 8  # continued, not restarted
    encoder, spec, report = load_encoder(run / "encoder.pt")
    assert spec.backbone == "r3d_18" and report.summary() == "all keys matched"
    assert (spec.clip_len, spec.stride, spec.crop_size) == (4, 2, 24)  # the clips it was trained on
    assert spec.kwargs == {"width": 0.125, "depth": (1, 1, 1, 1)}
    resumed = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert resumed["epoch"] == 1 and resumed["global_step"] == 8  # written at the end of epoch index 1
    assert torch.equal(resumed["state_dict"]["backbone.stem.0.weight"], encoder.state_dict()["stem.0.weight"])

    store = tmp_path / "results.sqlite"
    common = [f"data.manifest={micro_manifest}", "data.labels=[motion,appearance]", "data.clip_len=4",
              "data.stride=2", "data.num_clips=2", "data.crop_size=24", "data.short_side=24",
              "data.num_workers=0", f"store={store}", "progress=false", "linear.epochs=5",
              "finetune.epochs=1", "finetune.batch_size=4", "encoder.width=0.125", "encoder.depth=[1,1,1,1]"]
    run_eval(["knn", "linear"], load_config(EvalConfig, None, "eval", common + ["seeds=2"]))
    run_eval(["knn", "linear", "finetune"],
             load_config(EvalConfig, None, "eval", common + [f"encoder.checkpoint={run / 'encoder.pt'}"]))
    rows = ResultStore(store).query()
    random_rows = [r for r in rows if r.encoder == "random"]
    pretrained_rows = [r for r in rows if r.encoder == "run"]
    # 2 protocols × 2 label sets × 2 metrics (top1, mean per-class) × 2 seeds; 3 protocols × ... × 1 seed
    assert len(random_rows) == 16 and {r.seed for r in random_rows} == {0, 1}
    assert len(pretrained_rows) == 12
    assert {r.protocol for r in pretrained_rows} == {"knn", "linear", "finetune"}
    assert all(0.0 <= r.value <= 100.0 for r in rows)
    assert len({r.config_hash for r in random_rows}) == 1


def test_resume_without_checkpoint_is_a_clear_error(micro_manifest, tmp_path):
    from vssl.core.errors import VsslError
    with pytest.raises(VsslError, match="no checkpoint at"):
        _pretrain(micro_manifest, tmp_path / "empty", epochs=1, resume=True)


@pytest.mark.slow
def test_demo_writes_the_comparison_at_a_small_size(tmp_path):
    from conftest import MICRO
    from vssl.app.demo import run_demo
    eval_small = ["data.clip_len=4", "data.num_clips=2", "data.crop_size=24", "data.short_side=24",
                  "data.num_workers=0", "linear.epochs=5", "encoder.width=0.125"]
    pretrain_small = ["train.batch_size=4", "model.width=0.125", *SMALL_CLIPS]  # every run: the ceiling too
    table = run_demo(tmp_path, epochs=1, progress=False, synthetic=MICRO, pretrain_overrides=pretrain_small,
                     eval_overrides=eval_small)
    markdown = (tmp_path / "comparison.md").read_text()
    lines = (tmp_path / "comparison.csv").read_text().splitlines()
    assert lines[0] == "encoder,protocol,dataset,label,metric,mean,std,seeds,n,skipped,rule"
    rules = {(row[1], row[-1]) for row in csv.reader(lines[1:])}
    assert rules == {("knn", "k=10, exp(sim/0.07) vote, ties to lower class"), ("linear", "")}
    # 3 encoders (the floor, the method, the ceiling) × 2 protocols × 2 label sets, top-1 only
    assert len(lines) == 1 + 12
    assert {line.split(",")[0] for line in lines[1:]} == {"random", "vcop", "supervised"}
    assert "| synthetic_micro | appearance | knn | top1 |" in markdown and "| motion | linear | top1 |" in markdown
    assert "vcop" in table
    assert (tmp_path / "pretrain" / "vcop" / "seed0" / "encoder.pt").is_file()
    # a second run reuses the generated benchmark instead of writing it again
    stamp = (tmp_path / "data" / "manifest.csv").stat().st_mtime_ns
    run_demo(tmp_path, epochs=1, progress=False, synthetic=MICRO, pretrain_overrides=pretrain_small,
             eval_overrides=eval_small)
    assert (tmp_path / "data" / "manifest.csv").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("method, extra", [
    ("rho_byol", ["method.proj_hidden=32", "method.pred_hidden=32"]),
    ("rho_simclr", ["method.proj_hidden=32"]),
    ("rho_swav", ["method.proj_hidden=32", "method.num_prototypes=16", "optim.name=lars"]),
])
def test_every_method_trains_one_epoch(micro_manifest, tmp_path, method, extra):
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path}", "train.epochs=1",
                 "train.batch_size=4", "train.progress=false", f"method.name={method}", "method.rho=3",
                 *SMALL_MODEL, *SMALL_CLIPS, *extra]
    run = run_pretrain(load_config(PretrainConfig, None, "pretrain", overrides))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == method and summary["steps"] == 4
    assert summary["final_loss"] == summary["final_loss"]  # not NaN
    assert load_encoder(run / "encoder.pt")[2].summary() == "all keys matched"


def test_knn_monitor_logs_each_epoch_without_changing_training(micro_manifest, tmp_path):
    plain = _pretrain(micro_manifest, tmp_path / "plain", epochs=2)
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path / 'monitored'}", "train.epochs=2",
                 "train.batch_size=4", "train.progress=false", "method.queue_size=32", "method.proj_hidden=32",
                 "monitor.label=appearance", "monitor.k=3", *SMALL_MODEL, *SMALL_CLIPS]
    monitored = run_pretrain(load_config(PretrainConfig, "rho_moco_tiny", "pretrain", overrides))
    history = json.loads((monitored / "summary.json").read_text())["knn_monitor_top1"]
    assert len(history) == 2 and all(0.0 <= h <= 100.0 and h * 16 / 100 == round(h * 16 / 100) for h in history)
    metrics = (monitored / "logs" / "version_0" / "metrics.csv").read_text()
    assert "monitor/knn_top1" in metrics.splitlines()[0]
    a, b = read_checkpoint(plain / "encoder.pt"), read_checkpoint(monitored / "encoder.pt")
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


@pytest.mark.slow
def test_interrupted_run_resumes_bit_exactly(micro_manifest, tmp_path, monkeypatch):
    """A 2-epoch run killed after epoch 0 and resumed ends exactly where an uninterrupted run ends: weights,
    momentum encoder, queue, optimiser momentum and schedule position."""
    from vssl.methods.rho_moco import RhoMoCo
    straight = _pretrain(micro_manifest, tmp_path / "straight", epochs=2)

    original = RhoMoCo.train_views

    def crash_in_second_epoch(self, views):
        if self.global_step == 4:  # first step of epoch 1 (4 steps per epoch)
            raise RuntimeError("simulated crash")
        return original(self, views)

    monkeypatch.setattr(RhoMoCo, "train_views", crash_in_second_epoch)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _pretrain(micro_manifest, tmp_path / "resumed", epochs=2)
    monkeypatch.setattr(RhoMoCo, "train_views", original)
    assert read_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.ckpt")["global_step"] == 4
    resumed = _pretrain(micro_manifest, tmp_path / "resumed", epochs=2, resume=True)
    a = read_checkpoint(straight / "checkpoints" / "last.ckpt")
    b = read_checkpoint(resumed / "checkpoints" / "last.ckpt")
    assert a["global_step"] == b["global_step"] == 8
    assert set(a["state_dict"]) == set(b["state_dict"])
    different = [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k], b["state_dict"][k])]
    assert different == []  # all of backbone.*, head.*, key_backbone.*, key_head.*, queue, queue_pointer
    momenta = [s["momentum_buffer"] for s in a["optimizer_states"][0]["state"].values()]
    momenta_resumed = [s["momentum_buffer"] for s in b["optimizer_states"][0]["state"].values()]
    assert all(torch.equal(x, y) for x, y in zip(momenta, momenta_resumed))
    assert a["lr_schedulers"][0]["last_epoch"] == b["lr_schedulers"][0]["last_epoch"] == 8


def test_pretraining_on_a_no_flip_dataset_turns_flips_off(micro_manifest, tmp_path):
    """A manifest imported from a direction-sensitive dataset (SSv2: "left to right") is never mirrored."""
    import yaml

    from vssl.data.formats.common import DatasetInfo, write_dataset_info
    from vssl.data.manifest import read_manifest, write_manifest

    manifest = tmp_path / "ssv2_like.csv"
    write_manifest(read_manifest(micro_manifest), manifest)  # read_manifest resolves paths: they stay valid
    write_dataset_info(DatasetInfo("ssv2", {}, False, {}), manifest)
    run = _pretrain(manifest, tmp_path / "run", epochs=1)
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["flip"] is False
