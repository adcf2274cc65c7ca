"""SlowFast's RoI head for actions in given boxes (Feichtenhofer et al. 2019 §5; PySlowFast ``ResNetRoIHead``).

A backbone's last-stage map [B, C, T, H, W] is averaged over time; RoIAlign (He et al. 2017) pools each box into
``resolution``² bins, which are max-pooled (or averaged) to one vector per box; dropout and a linear layer give
its class logits: sigmoid and binary cross-entropy per class for AVA's multi-label boxes, softmax and cross-entropy
for UCF101-24's one action per box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError

RESOLUTION = 7  # RoIAlign output bins per side (PySlowFast defaults.py DETECTION.ROI_XFORM_RESOLUTION)
SPATIAL_POOLS = ("max", "avg")


@dataclass
class StDetectionConfig:
    """The ``st_detection`` section of `vssl eval`. Defaults are PySlowFast's AVA recipe
    (configs/AVA/SLOW_8x8_R50_SHORT.yaml) where it has one; its backbone is fine-tuned, here frozen by default.
    A manifest without video labels (the boxes carry them) needs ``data.labels=[]``."""

    # AVA CSVs, or one UCF101-24 annotation (.json, .pkl); () = <manifest folder>/boxes.csv
    annotations: tuple[str, ...] = ()
    label_map: str = ""  # AVA pbtxt of the classes to learn and score; "" = <manifest folder>/action_list.pbtxt
    # seconds to subtract from an AVA timestamp to index the video: 900 for AVA's 15-minute clips cut at 900 s
    # (PySlowFast ava_helper: frame = (sec − 900) × 30)
    time_offset: float = ranged(0.0, ge=0)
    multi_label: bool = True  # sigmoid + BCE (AVA: HEAD_ACT sigmoid, LOSS_FUNC bce); False: softmax + CE (UCF101-24)
    finetune: bool = False  # train the backbone with the head; False: a frozen backbone, its box features read once
    tap: str = "pool5"  # the feature map the boxes are pooled from: the last stage (see vssl.evaluation.taps)
    resolution: int = ranged(RESOLUTION, ge=1)
    spatial_pool: str = "max"  # max (PySlowFast: MaxPool2d over the RoIAlign bins) | avg
    dropout: float = ranged(0.5, ge=0, lt=1)  # PySlowFast MODEL.DROPOUT_RATE
    epochs: int = ranged(20, ge=1)  # SOLVER.MAX_EPOCH
    batch_size: int = ranged(64, ge=1)  # TRAIN.BATCH_SIZE: keyframe clips per step
    lr: float = ranged(0.1, gt=0)  # SOLVER.BASE_LR (for a batch of 64)
    optimizer: str = "sgd"  # sgd (momentum 0.9, SOLVER.MOMENTUM) | adam
    weight_decay: float = ranged(1e-7, ge=0)  # SOLVER.WEIGHT_DECAY
    milestones: tuple[float, ...] = ranged((10.0, 15.0), ge=0)  # epochs where the LR drops ×0.1 (STEPS, LRS)
    warmup_epochs: float = ranged(5.0, ge=0)  # SOLVER.WARMUP_EPOCHS, linear from warmup_start_lr
    warmup_start_lr: float = ranged(0.000125, ge=0)  # SOLVER.WARMUP_START_LR


def roi_align(features: torch.Tensor, boxes: torch.Tensor, batch_index: torch.Tensor, output_size: int,
              sampling_ratio: int = 0) -> torch.Tensor:
    """RoIAlign with ``aligned=True`` (torchvision ``roi_align``, detectron2 ``ROIAlign``): [K, C, S, S] from
    ``features`` [N, C, H, W] for ``boxes`` [K, 4] (x1, y1, x2, y2 in map units, pixel i spanning [i, i + 1]) of
    the maps ``batch_index`` [K]. Each bin averages ``sampling_ratio``² bilinear samples (0: ceil(box side / S)
    per side) at the centres of a regular grid; coordinates shift by −0.5 to pixel centres, clamp to the map's
    edge pixels, and samples more than one pixel outside the map count as 0."""
    _, _, height, width = features.shape
    pooled = []
    for box, image in zip(boxes.tolist(), batch_index.tolist()):
        x1, y1, x2, y2 = (value - 0.5 for value in box)
        rows = sampling_ratio or math.ceil((y2 - y1) / output_size)
        cols = sampling_ratio or math.ceil((x2 - x1) / output_size)
        ys = y1 + (torch.arange(output_size * rows, dtype=features.dtype, device=features.device) + 0.5) * (
            (y2 - y1) / (output_size * rows))
        xs = x1 + (torch.arange(output_size * cols, dtype=features.dtype, device=features.device) + 0.5) * (
            (x2 - x1) / (output_size * cols))
        grid = torch.stack(torch.meshgrid((2 * xs + 1) / width - 1, (2 * ys + 1) / height - 1, indexing="xy"), -1)
        samples = F.grid_sample(features[image:image + 1], grid[None], mode="bilinear", padding_mode="border",
                                align_corners=False)[0]
        inside = ((ys >= -1) & (ys <= height))[:, None] & ((xs >= -1) & (xs <= width))[None, :]
        samples = samples * inside
        pooled.append(samples.view(-1, output_size, rows, output_size, cols).mean(dim=(2, 4)))
    return torch.stack(pooled) if pooled else features.new_zeros(0, features.shape[1], output_size, output_size)


def pool_boxes(feature_map: torch.Tensor, boxes: torch.Tensor, batch_index: torch.Tensor,
               resolution: int = RESOLUTION, spatial_pool: str = "max") -> torch.Tensor:
    """One vector [K, C] per box of ``feature_map`` [B, C, T, H, W]: the map averaged over time, RoIAlign of each
    box (given as fractions of the frame, which the map covers, so its map coordinates are the fractions × the
    map's size) into ``resolution``² bins, then their maximum (or mean)."""
    if feature_map.dim() != 5:
        raise ConfigError(f"st_detection.tap: the RoI head needs a feature map [B, C, T, H, W], got shape "
                          f"{tuple(feature_map.shape)}")
    if spatial_pool not in SPATIAL_POOLS:
        raise ConfigError(f"st_detection.spatial_pool: unknown pooling '{spatial_pool}' "
                          f"(valid: {', '.join(SPATIAL_POOLS)})")
    frames = feature_map.mean(dim=2)
    scale = boxes.new_tensor([frames.shape[3], frames.shape[2]] * 2)
    bins = roi_align(frames, boxes * scale, batch_index, resolution)
    return bins.amax(dim=(2, 3)) if spatial_pool == "max" else bins.mean(dim=(2, 3))


class RoIHead(nn.Module):
    """Temporal average pool → RoIAlign → spatial max (or mean) pool (:func:`pool_boxes`) → dropout → linear."""

    def __init__(self, channels: int, num_classes: int, resolution: int = RESOLUTION, spatial_pool: str = "max",
                 dropout: float = 0.5):
        super().__init__()
        self.resolution, self.spatial_pool = resolution, spatial_pool
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Class logits [K, classes] of pooled box vectors [K, C]."""
        return self.fc(self.dropout(pooled))

    def forward(self, feature_map: torch.Tensor, boxes: torch.Tensor, batch_index: torch.Tensor) -> torch.Tensor:
        """Class logits [K, classes] of ``boxes`` [K, 4] (fractions of the frame) on ``feature_map``."""
        return self.classify(pool_boxes(feature_map, boxes, batch_index, self.resolution, self.spatial_pool))


def box_loss(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """Binary cross-entropy per class on 0/1 ``targets`` [K, classes] (AVA), or cross-entropy on each box's one
    class (UCF101-24)."""
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, targets)
    return F.cross_entropy(logits, targets.argmax(dim=1))


def box_scores(logits: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """Per-class scores [K, classes]: sigmoids (multi-label) or the softmax."""
    return logits.sigmoid() if multi_label else logits.softmax(dim=1)
