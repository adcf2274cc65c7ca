"""CtP, context-and-motion decoupling by tracking patches (Wang, Jiao & Liu 2021; in Thoker 2023's SEVERE set): a
patch cut from another video of the batch is pasted onto a clip and moves along a random trajectory (optionally
changing scale); the network regresses the patch's centre in every frame from its last feature map. Patches and
trajectories are the tubelets of :mod:`vssl.methods.tubelets`; the loss is smooth-L1 on the centres in units of the
frame size. The original tracks the patch's box from a decoder of its own; here a pooled 2 × 2 grid of the last
stage and an MLP regress the centres (stated, not the paper's head)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.methods.base import Method, OneClipPerVideo
from vssl.methods.tubelets import MOTIONS, draw_tubelet, paste_tubelet

GRID = (1, 2, 2)  # the last feature map pooled to 1 × 2 × 2 cells before the regression MLP


@dataclass
class CtPConfig:
    motion: str = "linear"  # CtP's trajectories are linear between keyframes
    transforms: tuple[str, ...] = ("scale",)  # the patch changes size along the way
    hidden: int = ranged(512, ge=1)
    points: int = ranged(8, ge=2)  # instants of the clip whose centres are regressed (evenly spaced)

    def __post_init__(self):
        self.transforms = tuple(self.transforms)
        if self.motion not in MOTIONS:
            raise ConfigError(f"method.motion={self.motion!r}: expected one of {', '.join(MOTIONS)}")


def tracked_clip(clip: torch.Tensor, source: torch.Tensor, config: CtPConfig,
                 rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(a copy of ``clip`` [C, T, H, W] with a patch of ``source`` moving over it, the patch's centres [T, 2] as
    fractions (x / W, y / H))."""
    tubelet = draw_tubelet(rng, source, config.motion, config.transforms)
    pasted = clip.clone()
    paste_tubelet(pasted, tubelet)
    height, width = clip.shape[2:]
    centres = torch.as_tensor(tubelet.centres / np.array([width, height]), dtype=torch.float32)
    return pasted, centres


def at_points(centres: torch.Tensor, points: int) -> torch.Tensor:
    """Centres [T, 2] at ``points`` evenly spaced instants from the first frame to the last, linearly interpolated."""
    frames = centres.shape[0]
    where = torch.linspace(0, frames - 1, points)
    low = where.floor().long().clamp(max=frames - 1)
    high = (low + 1).clamp(max=frames - 1)
    fraction = (where - low)[:, None]
    return centres[low] * (1 - fraction) + centres[high] * fraction


class CtP(OneClipPerVideo, Method):
    """The backbone's last stage (``layer4``), pooled to a 2 × 2 grid, → MLP → the patch centre at ``points`` evenly
    spaced instants of the clip (interpolated between frames), whatever the clip length."""

    def __init__(self, backbone, config: CtPConfig, optim):
        if "layer4" not in backbone.tap_names:
            raise ConfigError(f"method ctp regresses from a convolutional backbone's layer4; "
                              f"{type(backbone).__name__} has taps {', '.join(backbone.tap_names)}")
        super().__init__(backbone, config, optim)
        self.regressor = nn.Sequential(nn.AdaptiveAvgPool3d(GRID), nn.Flatten(),
                                       nn.Linear(backbone.feature_dim * int(np.prod(GRID)), config.hidden),
                                       nn.ReLU(inplace=True), nn.Linear(config.hidden, config.points * 2))


    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        clips = views[:, 0]
        batch = clips.shape[0]
        rng = np.random.default_rng(self.global_step)  # a function of the step: resumable
        pairs = [tracked_clip(clips[b].cpu(), clips[(b + 1) % batch].cpu(), self.config, rng) for b in range(batch)]
        inputs = torch.stack([clip for clip, _ in pairs]).to(clips)
        targets = torch.stack([at_points(centres, self.config.points) for _, centres in pairs]).to(clips.device)
        predicted = self.regressor(self.backbone.features(inputs, "layer4")["layer4"]).view(batch, -1, 2).float()
        loss = F.smooth_l1_loss(predicted, targets)
        self.manual_backward(loss)
        return loss.detach()
