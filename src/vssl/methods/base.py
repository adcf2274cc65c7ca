"""The Method interface: a LightningModule that owns the encoder, optimiser plumbing and momentum encoders.

Subclasses implement ``train_views(views) -> loss`` where ``views`` is [B, V, C, T, H, W] (V clips or
augmented views per video; for the ρ-methods all positives of each other). They call ``self.manual_backward``
themselves, so a method may aggregate its queries sequentially (one clip's forward+backward at a time, Feichtenhofer et al. 2021 §3).
A method that needs more of the batch (e.g. the frame indices of its clips) overrides ``train_batch`` instead.

What the data loader feeds a method is decided by the method's class hooks, so every method trains through the
same ``vssl pretrain`` engine: ``prepare`` (data preparation before training, e.g. a label cache; what it returns is
passed to ``build_order`` and, unless None, to the constructor as ``prepared``), ``build_sampler`` (which frames),
``build_transform`` (which augmentations), ``views_per_clip`` (augmented copies of each clip), ``build_order``
(video order per epoch, e.g. a curriculum) and ``input_files`` (which files a clip is read from: the RGB video, or
others for a method that trains on other modalities). The hooks other than ``prepare`` do no I/O.

Step counts (for the LR schedule and momentum schedules) come from the Lightning trainer fitting the method.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import lightning as L
import torch
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError, VsslError
from vssl.core.optim import OptimConfig, build_optimizer, build_scheduler
from vssl.data.sampling import RandomClipSampler, RhoClipSampler
from vssl.data.transforms import build_train_transform
from vssl.methods.distributed import all_reduce_max


@dataclass
class RhoClipsConfig:
    """The clip settings every ρ-method shares (Feichtenhofer et al. 2021); each method's config extends it."""

    rho: int = ranged(2, ge=1)  # clips per video; Feichtenhofer et al. 2021 ablations use ρ = 2 (Table 2)
    max_distance_s: float | None = ranged(None, gt=0)  # t_max between positives in seconds (Feichtenhofer et al. 2021 Table 4); None = global


class OneClipPerVideo:
    """Mixin for methods that see one clip of each video at a random time, in one augmented view (put it before
    the method's base class)."""

    @classmethod
    def build_sampler(cls, config, data):
        return RandomClipSampler(data.clip_len, data.stride)

    @classmethod
    def views_per_clip(cls, config) -> int:
        return 1


class Method(L.LightningModule):
    """Shared base of all self-supervised methods."""

    def __init__(self, backbone: nn.Module, config, optim: OptimConfig):
        super().__init__()
        self.backbone = backbone
        self.config = config
        self.optim_config = optim
        self.automatic_optimization = False
        self.skipped_paths: list[str] = []

    @property
    def encoder(self) -> nn.Module:
        """The backbone that evaluation uses."""
        return self.backbone

    @property
    def total_steps(self) -> int:
        """Optimiser steps of the whole run: the trainer's ``estimated_stepping_batches``; 1 outside a trainer (a
        hand-driven step then sees the schedules at their start)."""
        if self._trainer is None:
            return 1
        total = self._trainer.estimated_stepping_batches
        if not math.isfinite(total):
            raise VsslError("a method's schedules need a finite run: give the trainer max_epochs or max_steps")
        return max(int(total), 1)

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch: the run's total over the trainer's ``max_epochs``; 1 outside a trainer."""
        if self._trainer is None:
            return 1
        return max(self.total_steps // max(self._trainer.max_epochs or 1, 1), 1)

    # --- what the loader feeds the method (class hooks; ``data`` is the PretrainDataConfig) -------------------

    @classmethod
    def prepare(cls, config, data, progress: bool = True):
        """Data preparation before training (e.g. computing or loading a label cache); returns what the method
        needs (None: nothing), which is passed to ``build_order`` and, unless None, to the constructor."""
        return None

    @classmethod
    def build_sampler(cls, config, data):
        """Frame indices per video: ρ clips at random times (Feichtenhofer et al. 2021)."""
        return RhoClipSampler(data.clip_len, data.stride, config.rho, config.max_distance_s, data.fps_jitter)

    @classmethod
    def build_transform(cls, config, data):
        """Per-clip augmentation of Feichtenhofer et al. 2021 §4 (crop, flip, colour jitter, grayscale, blur, optionally temporal
        difference)."""
        return build_train_transform(data.crop_size, data.short_side, strength=data.color_strength, blur=data.blur,
                                     flip=data.flip, inception_crop=data.inception_crop,
                                     temporal_difference_p=data.temporal_difference_p)

    @classmethod
    def views_per_clip(cls, config) -> int:
        """ρ = 1 means two augmented crops of the same temporal instance (Feichtenhofer et al. 2021 §3)."""
        return 2 if config.rho == 1 else 1

    @classmethod
    def input_files(cls, config, data):
        """Sample → the files an item's clips are read from (stacked on channels), or None: the sample's own RGB
        video. Only RGB here; a method that trains an encoder of ``data.modality`` flow or depth reads others
        (:class:`vssl.data.modality.ModalityFiles`)."""
        if data.modality != "rgb":
            raise ConfigError(f"data.modality={data.modality}: method {cls.__name__} trains on RGB clips only "
                              "(modality_transfer trains flow and depth encoders)")
        return None

    @classmethod
    def label_sets(cls, config) -> tuple[str, ...]:
        """Manifest label columns the method trains on; self-supervised methods read none. A method that names
        some is built with ``num_classes`` (label set → class count) and its batches carry ``labels``."""
        return ()

    @classmethod
    def construct(cls, backbone: nn.Module, config, optim: OptimConfig, num_classes: dict[str, int] | None = None,
                  prepared=None):
        """The method around ``backbone``: ``num_classes`` (label set → class count) goes to a method that trains on
        labels (``label_sets``), ``prepared`` (what ``prepare`` returned) to one that prepares data."""
        labelled = cls.label_sets(config)
        if labelled and num_classes is None:
            raise ConfigError(f"method {cls.__name__} trains on labels {', '.join(labelled)}: "
                              "pass num_classes={set: count}")
        extra = ({"num_classes": num_classes} if labelled else {}) | ({} if prepared is None else {"prepared": prepared})
        return cls(backbone, config, optim, **extra)

    @classmethod
    def build_order(cls, config, dataset, seed: int, epochs: int, prepared=None):
        """Video order per epoch of a run of ``epochs`` epochs; None = a fresh shuffle every epoch. ``prepared``:
        what ``prepare`` returned."""
        return None

    # --- training ---------------------------------------------------------------------------------------------

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def train_batch(self, batch: dict) -> torch.Tensor:
        """Forward and backward on one collated batch; returns the loss to log."""
        return self.train_views(batch["clips"])

    def after_step(self, views: torch.Tensor) -> None:
        """Hook after the optimiser step (e.g. queue updates)."""

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["skipped_paths"] = list(self.skipped_paths)  # a resumed run still reports the earlier ones

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.skipped_paths = list(checkpoint.get("skipped_paths", []))

    def training_step(self, batch, batch_idx):
        self.skipped_paths.extend(batch["skipped"])
        views = batch["clips"]
        # A batch emptied by unreadable videos has nothing to learn from. Under DDP every process must skip the
        # same steps, or the others would wait forever in their gradient all-reduce.
        too_small = torch.tensor([float(views.shape[0] < 2)], device=self.device)
        if all_reduce_max(too_small).item():
            return None
        optimizer = self.optimizers()
        scheduler = self.lr_schedulers()
        optimizer.zero_grad(set_to_none=True)
        loss = self.train_batch(batch)
        optimizer.step()
        scheduler.step()
        self.after_step(views)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=views.shape[0],
                 sync_dist=True)
        self.log("train/lr", scheduler.get_last_lr()[0], on_step=True, on_epoch=False, batch_size=views.shape[0])
        self.log("train/skipped_videos", float(len(self.skipped_paths)), on_step=False, on_epoch=True,
                 batch_size=views.shape[0], reduce_fx="max")
        return loss

    def configure_optimizers(self):
        optimizer = build_optimizer(self.trainable_parameters(), self.optim_config)
        scheduler = build_scheduler(optimizer, self.optim_config, self.steps_per_epoch, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    @staticmethod
    def momentum_copy(module: nn.Module) -> nn.Module:
        """A frozen copy of ``module`` that follows it by exponential moving average."""
        target = copy.deepcopy(module)
        for param in target.parameters():
            param.requires_grad_(False)
        return target

    @staticmethod
    @torch.no_grad()
    def momentum_update(online: nn.Module, target: nn.Module, momentum: float) -> None:
        """θ_m ← m·θ_m + (1 − m)·θ (Feichtenhofer et al. 2021 §1); buffers (BN statistics) are copied."""
        for p_online, p_target in zip(online.parameters(), target.parameters()):
            p_target.mul_(momentum).add_(p_online.detach(), alpha=1.0 - momentum)
        for b_online, b_target in zip(online.buffers(), target.buffers()):
            b_target.copy_(b_online)
