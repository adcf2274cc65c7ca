"""RotNet3D (Jing et al. 2018, as benchmarked by Kumar et al. 2023): rotate every frame of a clip by one angle and classify it.

Kumar et al. 2023 §3.1 summarises the task as a geometric transformation of the whole clip; its details come from the
original papers [ext]. As in RotNet for images (Gidaris et al. 2018, who found feeding all rotated copies of an
image in one mini-batch better than one random rotation per image), every clip of the batch is fed once per angle, so
a batch of B clips is K·B rotated clips and the labels need no randomness. Rotations are counter-clockwise quarter turns of the frames; 90° and 270° need
square crops so the rotated clips stack.

Complexity (Kumar et al. 2023 §4.3: "vary the number of rotations between 2 to 4"): C1 = (0°, 90°), C2 = (0°, 90°, 180°),
C3 = (0°, 90°, 180°, 270°), the first 2/3/4 angles (the paper does not say which subsets it used).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.errors import ConfigError, VsslError
from vssl.data.sampling import RandomClipSampler
from vssl.methods.pretext_common import PretextMethod, apply_complexity, reject_fps_jitter

ROTATION_LEVELS = {"C1": (0, 90), "C2": (0, 90, 180), "C3": (0, 90, 180, 270)}


@dataclass
class RotNet3DConfig:
    rotations: tuple[int, ...] = (0, 90, 180, 270)  # degrees; Jing et al. 2018 [ext]: four angles (Kumar et al. 2023 C3)
    complexity: str | None = None  # C1/C2/C3 = 2/3/4 rotations (module docstring); None = use `rotations`

    def __post_init__(self):
        apply_complexity(self, "rotations", ROTATION_LEVELS)
        if len(self.rotations) < 2 or len(set(self.rotations)) != len(self.rotations) or any(
                angle not in (0, 90, 180, 270) for angle in self.rotations):
            raise ConfigError(f"method.rotations: expected 2 to 4 distinct angles out of 0, 90, 180, 270, "
                              f"got {self.rotations!r}")


def rotate_frames(video: torch.Tensor, degrees: int) -> torch.Tensor:
    """Rotate the frames (last two dims, H × W) of ``video`` counter-clockwise by 0, 90, 180 or 270 degrees."""
    if degrees == 0:
        return video
    if degrees == 90:  # the top row becomes the left column, read bottom-up
        return video.transpose(-2, -1).flip(-2)
    if degrees == 180:
        return video.flip(-2).flip(-1)
    if degrees == 270:
        return video.transpose(-2, -1).flip(-1)
    raise VsslError(f"rotation must be 0, 90, 180 or 270 degrees, got {degrees!r}")


class RotNet3D(PretextMethod):
    """Predict which of K rotations was applied to all frames of a clip; cross-entropy over the K angles."""

    def __init__(self, backbone, config: RotNet3DConfig, optim):
        super().__init__(backbone, config, optim)
        self.rotation_head = nn.Linear(backbone.feature_dim, len(config.rotations))

    @classmethod
    def build_sampler(cls, config, data):
        """One clip per video at a random time."""
        reject_fps_jitter("rotnet3d", data)
        return RandomClipSampler(data.clip_len, data.stride)

    def rotated_batch(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips [B, C, T, H, W] → every clip under every rotation [K·B, C, T, H, W] (rotation-major) and labels."""
        if clips.shape[-2] != clips.shape[-1] and any(angle in (90, 270) for angle in self.config.rotations):
            raise VsslError(f"rotnet3d: 90° and 270° rotations need square crops, got frames of "
                            f"{tuple(clips.shape[-2:])}")
        rotated = torch.cat([rotate_frames(clips, angle) for angle in self.config.rotations])
        labels = torch.arange(len(self.config.rotations), device=clips.device).repeat_interleave(clips.shape[0])
        return rotated, labels

    def train_batch(self, batch: dict) -> torch.Tensor:
        rotated, labels = self.rotated_batch(batch["clips"][:, 0])
        logits = self.rotation_head(self.backbone(rotated))
        loss = F.cross_entropy(logits, labels)
        self.manual_backward(loss)
        self.log_pretext(logits, labels, loss)
        return loss.detach()
