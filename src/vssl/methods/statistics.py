"""Spatio-temporal statistics (Wang 2020 Ch. 2–3): regress a clip's 14 motion and 13 appearance labels with two heads.

The labels (``vssl.methods.flow_statistics``) are read from the label cache (``vssl.methods.label_cache``).

Loss (Eq. 3.3): λ_m·MSE(ŷ_m, y_m) + λ_a·MSE(ŷ_a, y_a), λ_m = 1, λ_a = 0.1 (§3.4.2). The thesis writes the L2 norm
‖ŷ − y‖₂; the authors' code minimises the mean squared error (``nn.MSELoss``) of the label indices, used here.
Each head is fc 2048 → fc 2048 → output on the backbone's pooled features (Table 2.1).

Data, and why it differs from the usual augmentation:
- The clips are the labelled positions of the cache, one per video and epoch (``LabelledClipSampler``). Compute the
  labels first with ``vssl data labels statistics MANIFEST --split … --clip-len … --stride …`` (or set
  ``compute_labels``); ``Statistics.prepare`` loads the cache before training, and a missing one is a ``VsslError``
  that prints that exact command. The module is built with the loaded table (``prepared``).
- The labels describe regions of the *whole* frame, so the clip is the whole frame resized to ``crop_size``² (the
  regions are defined relative to the frame, so they map exactly onto the input) with no random crop, which would
  move every region boundary, and no colour jitter, which would change the colour labels (the paper's recipe has
  none either). ``data.short_side``, ``data.color_strength``, ``data.inception_crop``, ``data.flip``,
  ``data.temporal_difference_p`` and ``data.fps_jitter`` (which would move clips off their labelled frames) are
  not used.
- Horizontal flip (§3.4.2: random flip of the whole clip) is done here, on the batch, where the labels are known:
  a flipped clip is regressed onto the labels of the mirrored clip, which the cache holds. The coin is drawn from
  the global step, so a resumed run flips the same clips. A dataset whose sidecar forbids mirrors (SSv2) is never
  flipped: ``run_pretrain`` turns ``method.flip`` off with ``data.flip`` (``without_forbidden_flips``).
- ``curriculum`` orders the videos by motion concentration (Wang 2020 §3.2; ``vssl.methods.curriculum``).
- Kumar et al. 2023 (§4.3) vary task complexity only for RotNet, VCOP and PRP, not for this task, so there is no
  complexity setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from vssl.core.config import ranged
from vssl.core.errors import ConfigError, VsslError
from vssl.methods.curriculum import CurriculumOrder, check_curriculum
from vssl.methods.flow_statistics import APPEARANCE_LABELS, MOTION_LABELS
from vssl.methods.label_cache import (LabelledClipSampler, LabelTable, compute_statistics_labels, default_labels_path,
                                   labels_command)
from vssl.data.transforms import Compose, Normalize, VideoTransform, resize_frames
from vssl.methods.base import Method
from vssl.models.heads import mlp_head


@dataclass
class StatisticsConfig:
    motion_weight: float = ranged(1.0, ge=0)  # λ_m, Wang 2020 §3.4.2
    appearance_weight: float = ranged(0.1, ge=0)  # λ_a, Wang 2020 §3.4.2
    head_hidden: int = ranged(2048, ge=1)  # Wang 2020 Table 2.1: fc6 and fc7 of 2048 in each branch
    head_layers: int = ranged(3, ge=1)  # fc6, fc7, output (Table 2.1)
    position_step: int = ranged(0, ge=0)  # frames between labelled clip starts; 0 = one clip span (non-overlapping, §3.4.2)
    labels: str = ""  # label cache file; "" = the default next to data.manifest (vssl.methods.label_cache)
    compute_labels: bool = False  # compute a missing label cache before training (fine for small data, one process)
    flip: bool = True  # Wang 2020 §3.4.2: random horizontal flip of the whole clip, with the mirrored clip's labels;
    # turned off on a dataset that forbids mirrors (vssl.app.pretrain.without_forbidden_flips)
    curriculum: str = "none"  # none | single_step | easiest_half | hardest_half | random_half (§3.2, Table 3.3)
    curriculum_step_epochs: int | None = ranged(None, ge=1)  # Eq. 3.2 step_length in epochs; None = half of train.epochs (§3.2)

    def __post_init__(self):
        check_curriculum(self.curriculum)
        if self.position_step < 0:
            raise ConfigError(f"method.position_step: expected an integer >= 0, got {self.position_step}")


def statistics_loss(motion_prediction: torch.Tensor, motion_labels: torch.Tensor,
                    appearance_prediction: torch.Tensor, appearance_labels: torch.Tensor,
                    motion_weight: float, appearance_weight: float) -> torch.Tensor:
    """λ_m·mean((ŷ_m − y_m)²) + λ_a·mean((ŷ_a − y_a)²) over clips and labels (Wang 2020 Eq. 3.3, authors' MSE)."""
    return (motion_weight * F.mse_loss(motion_prediction, motion_labels)
            + appearance_weight * F.mse_loss(appearance_prediction, appearance_labels))


class FullFrameResize(VideoTransform):
    """The whole frame resized (bilinear) to ``size``², so whole-frame region labels stay exact."""

    def __init__(self, size: int):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise VsslError(f"data.crop_size must be an integer >= 1, got {size!r}")
        self.size = size

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return resize_frames(video, self.size, self.size)


def _position_step(config: StatisticsConfig) -> int | None:
    return config.position_step or None


def _labels(table: LabelTable | None) -> LabelTable:
    """The prepared label table; a method built without one cannot train."""
    if table is None:
        raise VsslError("the statistics method needs its label table: build it with "
                        "prepared=Statistics.prepare(method_config, data_config)")
    return table


class Statistics(Method):
    """Regress the statistics labels of each clip with a motion head and an appearance head."""

    def __init__(self, backbone, config: StatisticsConfig, optim, prepared: LabelTable | None = None):
        super().__init__(backbone, config, optim)
        self.motion_head = mlp_head(backbone.feature_dim, config.head_hidden, MOTION_LABELS, config.head_layers,
                                    batch_norm=False)
        self.appearance_head = mlp_head(backbone.feature_dim, config.head_hidden, APPEARANCE_LABELS,
                                        config.head_layers, batch_norm=False)
        self.label_table = prepared

    @classmethod
    def prepare(cls, config: StatisticsConfig, data, progress: bool = True) -> LabelTable:
        """The label table of the training split, loaded from its cache; ``compute_labels`` computes what the cache
        lacks first (otherwise a missing cache is an error naming the command)."""
        step = _position_step(config)
        path = config.labels or default_labels_path(data.manifest, data.split, data.clip_len, data.stride, step)
        command = labels_command(data.manifest, data.split, data.clip_len, data.stride, step, config.labels or None)
        if config.compute_labels:  # completes a cache that lacks videos; returns at once when it has them all
            compute_statistics_labels(data.manifest, data.split, data.clip_len, data.stride, out=path,
                                      progress=progress, position_step=step)
        if not Path(path).is_file():
            raise VsslError(f"{path}: statistics labels not found; compute them first with: {command}")
        return LabelTable.load(path, command)

    @classmethod
    def build_sampler(cls, config: StatisticsConfig, data) -> LabelledClipSampler:
        """One clip per video at one of its labelled positions."""
        return LabelledClipSampler(data.clip_len, data.stride, _position_step(config))

    @classmethod
    def build_transform(cls, config: StatisticsConfig, data) -> Compose:
        return Compose([FullFrameResize(data.crop_size), Normalize()])

    @classmethod
    def views_per_clip(cls, config: StatisticsConfig) -> int:
        return 1

    @classmethod
    def build_order(cls, config: StatisticsConfig, dataset, seed: int, epochs: int,
                    prepared: LabelTable | None = None) -> CurriculumOrder | None:
        """The curriculum over the dataset's videos, scored from the prepared label table; None = plain shuffling."""
        if config.curriculum == "none":
            return None
        table = _labels(prepared)
        scores = [table.video_concentration(sample.path) for sample in dataset.samples]
        step_epochs = epochs // 2 if config.curriculum_step_epochs is None else config.curriculum_step_epochs
        return CurriculumOrder(scores, config.curriculum, step_epochs, seed)

    def flips(self, batch_size: int) -> torch.Tensor:
        """Which clips of this step are mirrored: a fair coin each, drawn from the global step (resumable)."""
        if not self.config.flip:
            return torch.zeros(batch_size, dtype=torch.bool)
        generator = torch.Generator().manual_seed(self.global_step)
        return torch.rand(batch_size, generator=generator) < 0.5

    def train_batch(self, batch: dict) -> torch.Tensor:
        clips = batch["clips"][:, 0]  # [B, C, T, H, W]: one clip per video
        mirrored = self.flips(clips.shape[0])
        clips = torch.where(mirrored.view(-1, 1, 1, 1, 1).to(clips.device), clips.flip(-1), clips)
        starts = batch["frames"][:, 0, 0].tolist()
        motion, appearance = _labels(self.label_table).targets(batch["paths"], starts, mirrored.tolist())
        motion = torch.as_tensor(motion, dtype=clips.dtype, device=clips.device)
        appearance = torch.as_tensor(appearance, dtype=clips.dtype, device=clips.device)
        features = self.backbone(clips)
        loss = statistics_loss(self.motion_head(features), motion, self.appearance_head(features), appearance,
                               self.config.motion_weight, self.config.appearance_weight)
        self.manual_backward(loss)
        return loss.detach()
