"""`vssl pretrain`: build data, backbone and method from a config and train them with Lightning."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import lightning as L
import torch
import yaml
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from vssl.app.checkpoint_io import AtomicCheckpointIO
from vssl.app.resume import RandomStates, announce_resume, step_checkpoint
from vssl.app.progress import StderrProgressBar
from vssl.core.config import from_dict, ranged, to_dict
from vssl.core.errors import ConfigError, VsslError
from vssl.core.io import ensure_directory, write_json_atomic, write_text_atomic
from vssl.core.optim import OptimConfig
from vssl.core.cpu_bf16 import sound_cpu_bf16
from vssl.core.runtime import quiet_lightning, share_cpu_with_workers
from vssl.data.clip_store import ClipStore, open_clip_store
from vssl.data.formats import class_order, horizontal_flip_allowed, read_dataset_info
from vssl.data.index import build_index, index_path_for
from vssl.data.loader import VideoClipDataset, make_loader
from vssl.data.modality import check_modality
from vssl.data.manifest import Sample, read_manifest
from vssl.data.pool_subsets import nested_balanced_subset
from vssl.evaluation.monitor import KnnMonitor, MonitorConfig
from vssl.methods.registry import get_method
from vssl.models.checkpoints import save_encoder
from vssl.models.spec import EncoderSpec


@dataclass
class PretrainDataConfig:
    manifest: str = ""  # CSV/JSONL manifest (see vssl.data.manifest)
    split: str = "pretrain"
    clip_len: int = ranged(8, ge=1)  # Feichtenhofer et al. 2021: T×τ = 8×8
    stride: int = ranged(8, ge=1)
    crop_size: int = ranged(224, ge=1)  # Feichtenhofer et al. 2021 §4: 224² crops
    short_side: tuple[int, int] = ranged((256, 320), ge=1)  # Feichtenhofer et al. 2021 §4: short side resized to random [256, 320]
    color_strength: float = ranged(0.5, ge=0)  # Feichtenhofer et al. 2021 §4: colour jitter strength s = 0.5
    blur: bool = True  # Feichtenhofer et al. 2021 §4: Gaussian blur on half the clips (SimCLR drops it at CIFAR's 32², Chen et al. 2020 §B.9)
    inception_crop: bool = False  # Feichtenhofer et al. 2021 Table 8 "aug+" uses it
    temporal_difference_p: float = ranged(0.0, ge=0, le=1)  # Feichtenhofer et al. 2021 Table 7: 0.2 = grayscale frame differences on 20 % of clips
    fps_jitter: float = ranged(0.0, ge=0, lt=1)  # Feichtenhofer et al. 2021 Table 7: 0.5 = each clip's frame rate jittered by ±50 %
    flip: bool = True  # off for direction-sensitive datasets such as Something-Something v2
    num_workers: int = ranged(2, ge=0)
    clip_store: bool = True  # read frames from `vssl data cache`'s store when a valid one exists, else decode files
    modality: str = "rgb"  # what the trained encoder sees: rgb | flow | depth (vssl.data.modality; modality_transfer)
    # pre-train on this many videos of `split`, class-balanced and nested (vssl.data.pool_subsets; Kumar et al. 2023
    # §4.2, Table 2: 10k ⊂ 30k ⊂ 50k of K400); 0 = the whole split
    subset: int = ranged(0, ge=0)
    subset_label: str = "motion"  # the label set it is balanced on: the synthetic benchmarks' action classes
    # (`label` for an imported Kinetics); the labels only pick the videos, the method never sees them
    subset_seed: int = ranged(0, ge=0)  # draws the subset, apart from train.seed: every seed sees the same videos


@dataclass
class ModelConfig:
    backbone: str = "r3d_18"
    width: float = ranged(1.0, gt=0)
    depth: tuple[int, ...] | None = ranged(None, ge=1)  # blocks per stage; None = the backbone's own default


STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork")


@dataclass
class TrainConfig:
    epochs: int = ranged(200, ge=1)  # Feichtenhofer et al. 2021 §B.1: 200 epochs default
    batch_size: int = ranged(8, ge=1)  # per process; Feichtenhofer et al. 2021: 8 clips per GPU
    seed: int = ranged(0, ge=0)
    out_dir: str = "runs/pretrain"
    resume: bool = False  # continue from out_dir/checkpoints/last.ckpt (docs/reliability.md, "Resume")
    checkpoint_every_steps: int = ranged(0, ge=0)  # also rewrite last.ckpt every N steps (mid-epoch resume); 0 = off
    accelerator: str = "auto"
    devices: int = ranged(1, ge=1)  # processes per node under DDP
    num_nodes: int = ranged(1, ge=1)
    strategy: str = "auto"  # or "ddp" (re-runs the command per process), "ddp_spawn" / "ddp_fork" (in-process)
    sync_batchnorm: bool = False  # Feichtenhofer et al. 2021 §B.1: SyncBN for BYOL, SimCLR, SwAV; per-GPU BN for MoCo. GPU only
    precision: str = "32-true"
    progress: bool = True
    # also write encoder_epoch<N>.pt beside encoder.pt after these epochs: one run's stages of training (Kumar et al.
    # 2023 Table 3: 50/100/150/200 epochs)
    save_encoders_at: tuple[int, ...] = ranged((), ge=1)

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"train.strategy: expected one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        self.save_encoders_at = tuple(self.save_encoders_at)
        beyond = [epoch for epoch in self.save_encoders_at if epoch > self.epochs]
        if beyond:
            raise ConfigError(f"train.save_encoders_at: epoch {beyond[0]} lies beyond train.epochs={self.epochs}")
        for key in ("devices", "num_nodes"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key}: expected a count >= 1, got {getattr(self, key)!r}")


@dataclass
class PretrainConfig:
    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: dict = field(default_factory=lambda: {"name": "rho_moco"})
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)


def resolve_method(config: PretrainConfig):
    """(method class, validated method config) from the ``method`` section."""
    section = dict(config.method)
    name = section.pop("name", "rho_moco")
    method_class, config_class = get_method(name)
    return name, method_class, from_dict(config_class, section, "method")


def encoder_spec(config: PretrainConfig) -> EncoderSpec:
    """The encoder this run trains: its backbone and the clips it sees (Kinetics-normalised, as every transform)."""
    data = config.data
    return EncoderSpec(config.model.backbone, {"width": config.model.width, "depth": config.model.depth},
                       clip_len=data.clip_len, stride=data.stride, crop_size=data.crop_size,
                       modality=check_modality(data.modality, "data.modality"))


class SaveVsslSpec(L.Callback):
    """Store the encoder's spec (how to rebuild and feed it) inside every Lightning checkpoint."""

    def __init__(self, spec: EncoderSpec):
        self.spec = spec.to_dict()

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        checkpoint["vssl"] = self.spec


def epoch_encoder_path(run_dir: str | Path, epoch: int) -> Path:
    """Where ``train.save_encoders_at`` writes the encoder after ``epoch`` (counted from 1)."""
    return Path(run_dir) / f"encoder_epoch{epoch}.pt"


class SaveEncoderAtEpochs(L.Callback):
    """Write the encoder after each listed epoch through `save_encoder`, as the final encoder.pt (atomically; process
    0 under DDP). Lightning calls checkpoint callbacks after this one, so no epoch's last.ckpt exists without its
    encoder file, and a resumed run cannot skip one."""

    def __init__(self, epochs: tuple[int, ...], run_dir: Path, spec: EncoderSpec):
        self.epochs, self.run_dir, self.spec = set(epochs), run_dir, spec

    def on_train_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch + 1
        if epoch in self.epochs and trainer.is_global_zero:
            save_encoder(epoch_encoder_path(self.run_dir, epoch), pl_module.encoder, self.spec)


class LogIntervalFromEpoch(L.Callback):
    """Step metrics every 10 optimiser steps, or every epoch's worth when an epoch is shorter; the trainer knows
    the epoch's batches once it has set up the loader."""

    def on_train_start(self, trainer, pl_module):
        trainer.log_every_n_steps = max(1, min(10, int(trainer.num_training_batches)))


def build_monitor(config: PretrainConfig, store: ClipStore | None = None) -> KnnMonitor:
    """kNN monitor on the manifest's labelled splits, with the pre-training clip shape and an eval crop."""
    monitor, data = config.monitor, config.data
    train = read_manifest(data.manifest, split=monitor.train_split)
    test = read_manifest(data.manifest, split=monitor.test_split)
    if not train or not test:
        raise VsslError(f"{data.manifest}: monitor needs samples in splits '{monitor.train_split}' and "
                        f"'{monitor.test_split}'")
    index = build_index(train + test, cache=index_path_for(data.manifest), progress=False)
    short_side = data.short_side[0] if isinstance(data.short_side, tuple) else data.short_side
    return KnnMonitor(monitor, train, test, index, data.clip_len, data.stride, data.crop_size, short_side,
                      config.train.batch_size, data.num_workers, store)


def without_forbidden_flips(config: PretrainConfig, method_config):
    """(config, method config) with every horizontal flip off where the dataset forbids mirrors
    (``horizontal_flip_allowed``): ``data.flip`` and a method's own ``flip`` setting (the statistics method's)."""
    method_flips = getattr(method_config, "flip", False) is True
    if horizontal_flip_allowed(config.data.manifest) or not (config.data.flip or method_flips):
        return config, method_config
    info = read_dataset_info(config.data.manifest)
    print(f"{config.data.manifest}: {info.format} labels change under a horizontal flip; training without flips")
    config = replace(config, data=replace(config.data, flip=False))
    return config, (replace(method_config, flip=False) if method_flips else method_config)


def finite_or_none(value) -> float | None:
    """A logged metric as a float, or None (JSON null) when missing or not finite: summary.json stays valid JSON."""
    value = None if value is None else float(value)
    return value if value is not None and math.isfinite(value) else None


def pretraining_samples(data: PretrainDataConfig) -> list[Sample]:
    """The videos of ``data.split``, or its nested class-balanced subset of ``data.subset`` videos."""
    samples = read_manifest(data.manifest, split=data.split)
    if not samples:
        raise VsslError(f"{data.manifest}: no samples in split '{data.split}'")
    if data.subset:
        samples = nested_balanced_subset(samples, data.subset_label, data.subset, data.subset_seed)
    return samples


def run_pretrain(config: PretrainConfig) -> Path:
    """Train; returns the run folder holding config.yaml, checkpoints/, logs/, encoder.pt and summary.json."""
    if not config.data.manifest:
        raise ConfigError("missing config key 'data.manifest'")
    method_name, method_class, method_config = resolve_method(config)
    config, method_config = without_forbidden_flips(config, method_config)
    out = Path(config.train.out_dir)
    last_checkpoint = out / "checkpoints" / "last.ckpt"
    if config.train.resume and not last_checkpoint.is_file():
        raise VsslError(f"train.resume=true but no checkpoint at {last_checkpoint}")
    ensure_directory(out, "train.out_dir")
    resolved = to_dict(config) | {"method": {"name": method_name, **to_dict(method_config)}}
    write_text_atomic(out / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))

    L.seed_everything(config.train.seed, workers=True, verbose=False)
    quiet_lightning()
    share_cpu_with_workers(config.data.num_workers)
    samples = pretraining_samples(config.data)
    build_dataset = getattr(method_class, "build_dataset", None)  # a method that reads no videos (skeletons)
    index = None if build_dataset else build_index(samples, cache=index_path_for(config.data.manifest),
                                                   progress=config.train.progress)
    store = open_clip_store(config.data.manifest) if config.data.clip_store and not build_dataset else None
    prepared = method_class.prepare(method_config, config.data, progress=config.train.progress)
    label_sets = list(method_class.label_sets(method_config))
    classes = {name: class_order(config.data.manifest, samples, name) for name in label_sets}
    dataset = build_dataset(method_config, config.data, samples, config.train.seed) if build_dataset else \
        VideoClipDataset(samples, index, method_class.build_sampler(method_config, config.data),
                         method_class.build_transform(method_config, config.data), label_sets, classes,
                         repeat=method_class.views_per_clip(method_config), seed=config.train.seed,
                         store=store, files=method_class.input_files(method_config, config.data))
    if len(dataset) < config.train.batch_size:
        raise VsslError(f"{config.data.manifest}: only {len(dataset)} readable videos in split "
                        f"'{config.data.split}', fewer than train.batch_size={config.train.batch_size}")
    order = method_class.build_order(method_config, dataset, config.train.seed, config.train.epochs, prepared)
    loader = make_loader(dataset, config.train.batch_size, shuffle=True, num_workers=config.data.num_workers,
                         drop_last=True, seed=config.train.seed, order=order, resumable=True)
    spec = encoder_spec(config)
    backbone = spec.build()
    method = method_class.construct(backbone, method_config, config.optim,
                                    {name: len(names) for name, names in classes.items()}, prepared)

    # keep the newest epoch checkpoint plus last.ckpt, written after every epoch (what `resume` continues from)
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", save_last=True, every_n_epochs=1, save_top_k=1)
    callbacks = [LogIntervalFromEpoch(), checkpoint, SaveVsslSpec(spec), RandomStates()]
    if config.train.save_encoders_at:
        callbacks.append(SaveEncoderAtEpochs(config.train.save_encoders_at, out, spec))
    if config.train.checkpoint_every_steps:
        callbacks.append(step_checkpoint(out / "checkpoints", config.train.checkpoint_every_steps))
    if config.monitor.label and config.data.modality != "rgb":
        raise ConfigError(f"monitor.label: the kNN monitor reads RGB clips; data.modality={config.data.modality}")
    monitor = build_monitor(config, store) if config.monitor.label else None
    if monitor is not None:
        callbacks.append(monitor)
    if config.train.progress:
        callbacks.append(StderrProgressBar())  # stdout: results only
    trainer = L.Trainer(max_epochs=config.train.epochs, accelerator=config.train.accelerator,
                        devices=config.train.devices, num_nodes=config.train.num_nodes,
                        strategy=config.train.strategy, sync_batchnorm=config.train.sync_batchnorm,
                        precision=config.train.precision,
                        logger=CSVLogger(out, name="logs"), callbacks=callbacks,  # a new version_N per (re)start
                        plugins=[AtomicCheckpointIO()],  # atomic checkpoint writes, weights-only reads
                        enable_progress_bar=config.train.progress, enable_model_summary=False,
                        log_every_n_steps=1, num_sanity_val_steps=0)  # LogIntervalFromEpoch sets the interval
    if config.train.sync_batchnorm and trainer.world_size > 1 and isinstance(trainer.accelerator, CPUAccelerator):
        raise ConfigError("train.sync_batchnorm=true needs GPUs: PyTorch's SyncBatchNorm does not run on CPU")
    if config.train.checkpoint_every_steps and trainer.world_size > 1:
        raise ConfigError("train.checkpoint_every_steps needs a single process: under DDP runs resume at epoch ends")
    if config.train.resume:
        announce_resume(out, last_checkpoint, loader)
    cpu_bf16 = str(config.train.precision).startswith("bf16") and (config.train.accelerator == "cpu"
                                                                   or not torch.cuda.is_available())
    with sound_cpu_bf16() if cpu_bf16 else contextlib.nullcontext():
        trainer.fit(method, loader, ckpt_path=str(last_checkpoint) if config.train.resume else None,
                    weights_only=True)
    if not trainer.is_global_zero:  # under DDP, process 0 writes the run's outputs
        return out

    save_encoder(out / "encoder.pt", method.encoder, spec)
    skipped = sorted(set(method.skipped_paths))
    summary = {"method": method_name, "epochs": config.train.epochs, "steps": trainer.global_step,
               "videos": len(dataset), "unreadable_at_index": dataset.unreadable,
               "skipped_while_training": skipped,
               "knn_monitor_top1": monitor.history if monitor is not None else [],
               "final_loss": finite_or_none(trainer.callback_metrics.get("train/loss_epoch"))}
    write_json_atomic(out / "summary.json", summary)
    bad = len(dataset.unreadable) + len(skipped)
    if bad:
        print(f"skipped {bad} unreadable video(s); see {out / 'summary.json'}")
    return out
