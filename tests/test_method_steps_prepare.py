"""Methods take their step counts from the trainer, and data preparation happens in ``prepare`` before training."""

import csv
import math
import sys
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from vssl.app.pretrain import PretrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.core.optim import build_optimizer, build_scheduler
from vssl.methods import label_cache
from vssl.methods.label_cache import LabelTable
from vssl.methods import statistics
from vssl.methods.base import Method
from vssl.methods.losses import cosine_momentum
from vssl.methods.rho_moco import RhoMoCoConfig
from vssl.methods.statistics import Statistics, StatisticsConfig

VIDEOS = 16  # pre-training videos of the micro benchmark
SMALL = ["train.batch_size=4", "train.progress=false", "model.width=0.125", "model.depth=[1,1,1,1]",
         "data.clip_len=4", "data.stride=2", "data.crop_size=24", "data.short_side=[26,30]", "data.num_workers=0"]
MOCO = ["method.queue_size=32", "method.proj_hidden=32"]


def _config(manifest, out, preset, *overrides) -> PretrainConfig:
    return load_config(PretrainConfig, preset, "pretrain", [f"data.manifest={manifest}", f"train.out_dir={out}",
                                                            *SMALL, *overrides])


def _hand_counted_lrs(config: PretrainConfig, processes: int) -> list[float]:
    """The LR of every step and the one after the last, from ``build_scheduler`` with the step counts computed
    by hand: each process reads every processes-th video, in full batches."""
    steps_per_epoch = math.ceil(VIDEOS / processes) // config.train.batch_size
    total = steps_per_epoch * config.train.epochs
    optimizer = build_optimizer([torch.nn.Parameter(torch.zeros(1))], config.optim)
    scheduler = build_scheduler(optimizer, config.optim, steps_per_epoch, total)
    lrs = []
    for _ in range(total + 1):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_lr_of_every_step_equals_the_schedule_of_hand_counted_steps(micro_manifest, tmp_path, monkeypatch):
    config = _config(micro_manifest, tmp_path / "run", "rho_moco_tiny", "train.epochs=3", *MOCO)
    used, momenta = [], []
    training_step = Method.training_step

    def recording(self, batch, batch_idx):
        used.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        momenta.append(self.current_momentum())
        return training_step(self, batch, batch_idx)

    monkeypatch.setattr(Method, "training_step", recording)
    run_pretrain(config)
    expected = _hand_counted_lrs(config, processes=1)
    assert len(used) == 12 and used == expected[:-1]  # 4 warm-up steps, then the cosine over the other 8
    assert len(set(used)) == 12
    assert momenta == [cosine_momentum(RhoMoCoConfig().momentum, step, 12) for step in range(12)]


def _logged(run, key: str) -> dict[int, float]:
    with open(run / "logs" / "version_0" / "metrics.csv") as file:
        return {int(row["step"]): float(row[key]) for row in csv.DictReader(file) if row[key]}


def _float32(value: float) -> float:
    return float(torch.tensor(value, dtype=torch.float32))  # what self.log stores


@pytest.mark.slow
def test_two_processes_schedule_over_their_own_steps(micro_manifest, tmp_path):
    config = _config(micro_manifest, tmp_path / "run", "rho_moco_tiny", "train.epochs=3", "train.devices=2",
                     "train.strategy=ddp_spawn", "train.accelerator=cpu", *MOCO)
    run = run_pretrain(config)
    expected = _hand_counted_lrs(config, processes=2)  # 2 steps per epoch, 6 in all
    lrs, momenta = _logged(run, "train/lr"), _logged(run, "train/momentum")
    assert sorted(lrs) == sorted(momenta) == [1, 3, 5]  # every second step: an epoch's worth
    assert all(lr == _float32(expected[step + 1]) for step, lr in lrs.items())  # the LR after that step
    total, base = len(expected) - 1, RhoMoCoConfig().momentum  # ρMoCo's momentum anneals over the same 6 steps
    assert all(m == _float32(cosine_momentum(base, step, total)) for step, m in momenta.items())
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 6


def test_methods_outside_a_trainer_schedule_from_the_start():
    method = Method(torch.nn.Identity(), SimpleNamespace(), None)
    assert (method.steps_per_epoch, method.total_steps) == (1, 1)


# --- statistics: labels prepared once, before training ---------------------------------------------------------


def _counting_computation(monkeypatch) -> list:
    calls = []
    compute, clip_statistics = statistics.compute_statistics_labels, label_cache.clip_statistics

    def counted_compute(*args, **kwargs):
        calls.append("cache")
        return compute(*args, **kwargs)

    def counted_clip(frames):
        calls.append("clip")
        return clip_statistics(frames)

    monkeypatch.setattr(statistics, "compute_statistics_labels", counted_compute)
    monkeypatch.setattr(label_cache, "clip_statistics", counted_clip)
    return calls


def test_prepare_computes_the_labels_once_and_then_reads_the_cache(micro_manifest, tmp_path, monkeypatch):
    calls = _counting_computation(monkeypatch)
    config = _config(micro_manifest, tmp_path, None, "method.name=statistics")
    method_config = StatisticsConfig(labels=str(tmp_path / "labels.npz"), compute_labels=True)
    first = Statistics.prepare(method_config, config.data, progress=False)
    assert calls.count("cache") == 1 and calls.count("clip") == VIDEOS * 3  # starts 0, 7 and 14 of 24 frames
    second = Statistics.prepare(method_config, config.data, progress=False)
    # asked again whether anything is missing (a cache lacking videos is completed), but no clip is computed
    assert calls.count("cache") == 2 and calls.count("clip") == VIDEOS * 3
    assert isinstance(second, LabelTable) and second.path == first.path == tmp_path / "labels.npz"
    assert second.rows == first.rows


def test_statistics_trains_on_the_prepared_table_without_reaching_into_the_trainer(micro_manifest, tmp_path,
                                                                                  monkeypatch):
    prepared, used, reach_ins = [], [], []
    prepare, targets = Statistics.prepare.__func__, LabelTable.targets
    loader_property = L.Trainer.train_dataloader

    def recording_prepare(cls, *args, **kwargs):
        prepared.append(prepare(cls, *args, **kwargs))
        return prepared[-1]

    def recording_targets(table, paths, starts, mirrored):
        used.append(table)
        return targets(table, paths, starts, mirrored)

    def watched_loader(trainer):
        reach_ins.append(sys._getframe(1).f_code.co_filename)
        return loader_property.fget(trainer)

    monkeypatch.setattr(Statistics, "prepare", classmethod(recording_prepare))
    monkeypatch.setattr(LabelTable, "targets", recording_targets)
    monkeypatch.setattr(L.Trainer, "train_dataloader", property(watched_loader))
    labels = tmp_path / "labels.npz"
    config = _config(micro_manifest, tmp_path / "run", None, "train.epochs=1", "method.name=statistics",
                     "method.head_hidden=32", "method.compute_labels=true", f"method.labels={labels}",
                     "data.crop_size=32", "optim.warmup_epochs=0")
    run_pretrain(config)
    assert len(prepared) == 1 and prepared[0].path == labels
    assert len(used) == VIDEOS // 4 and all(table is prepared[0] for table in used)  # every step's labels
    assert not [name for name in reach_ins if "vssl" in name and "methods" in name]
