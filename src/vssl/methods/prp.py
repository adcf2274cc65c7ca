"""PRP (Yao et al. 2020; Kumar et al. 2023): classify a clip's dilation and reconstruct it with a motion-weighted MSE.

PRP is video playback rate perception; the reconstruction is at twice the input's temporal resolution.

Kumar et al. 2023 §3.1: "dilation (playback-rate) classification + decoder reconstructing frames with motion-attention-weighted
MSE" [ext: the PRP code, train_predict.py and datasets/predict_dataset.py]. A clip of T frames at dilation s
(every s-th frame) is the input; the decoder rebuilds the same stretch of video at dilation s/2, i.e. 2T frames, and
for s = 1 it rebuilds the 2T-frame clip whose odd frames are the means of their neighbours (as the PRP code).

Sampling: one dense clip of 2T frames is decoded at pace s/2 (:class:`PaceClipSampler`; pace 1/2 repeats every frame)
and both views come from it in the batch, so they share crop, flip and colour: the input is its even frames
(dilation s), the reconstruction target is the dense clip with every repeated frame replaced by the mean of its
neighbours. The dilation label is read back from the batch's frame indices with :func:`pace_label`, exactly.

Motion attention (PRP code, patch_region.py): the weight map peaks where the target moves most. The motion energy is
the squared difference of consecutive target frames, averaged over channels and time; the patch (side
``attention_patch`` × crop side, 28 px of 112, moved by ``attention_stride`` × patch, 7 px) with the largest mean
energy (the first one on ties, row-major) gets a Gaussian centred on it (σ = patch / 2), min–max scaled into
``attention_range`` ([0.8, 2.0]); a clip without motion gets weight 1 everywhere. Differences from the PRP code: it
measures motion on frames 0/5/10/15 of every 16 undecimated frames, which we do not decode, and centres the Gaussian
at top-left + patch/2 rather than the patch's middle pixel.
  L = recon_weight · mean(W ⊙ (x̂ − x)²) + cls_weight · CE(dilation logits, s)   (PRP code: 1 and 0.1)

The classifier is linear on the pooled features (the PRP code adds a conv6 per branch and a 10× LR on it); the
decoder is four ×2 transposed-conv stages from the backbone's deepest spatio-temporal map (PRP's up1–up4) and a
3×3×3 output conv, resized trilinearly to the target when a backbone's strides differ from R3D's ×8/×16.

Complexity (Kumar et al. 2023 §4.3: "modify the dilation sampling rates from 2 to 4 classes"): C1 = (1, 2), C2 = (1, 2, 4),
C3 = (1, 2, 4, 8), the first 2/3/4 of the PRP code's rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError, VsslError
from vssl.methods.pretext_sampling import PaceClipSampler, pace_label
from vssl.methods.pretext_common import PretextMethod, apply_complexity, reject_fps_jitter

DILATION_LEVELS = {"C1": (1, 2), "C2": (1, 2, 4), "C3": (1, 2, 4, 8)}
# Channel divisors of PRP's up1–up4 (512 → 256 → 128 → 64 → 64); each stage doubles time, height and width.
DECODER_DIVISORS = (2, 4, 8, 8)


@dataclass
class PRPConfig:
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # PRP code sample_step_list (Kumar et al. 2023 C3)
    complexity: str | None = None  # C1/C2/C3 = (1,2)/(1,2,4)/(1,2,4,8) (Kumar et al. 2023 §4.3); None = use `dilations`
    recon_weight: float = ranged(1.0, ge=0)  # PRP code: loss = loss_recon + 0.1 · loss_class
    cls_weight: float = ranged(0.1, ge=0)
    attention_patch: float = 0.25  # patch side / crop side: 28 of 112 px (PRP code)
    attention_stride: float = 0.25  # patch step / patch side: 7 of 28 px (PRP code)
    attention_range: tuple[float, float] = (0.8, 2.0)  # weights min–max scaled into this (PRP code)

    def __post_init__(self):
        apply_complexity(self, "dilations", DILATION_LEVELS)
        if len(self.dilations) < 2 or len(set(self.dilations)) != len(self.dilations) or min(self.dilations) < 1:
            raise ConfigError(f"method.dilations: expected at least 2 distinct integers >= 1, got {self.dilations!r}")
        for key in ("attention_patch", "attention_stride"):
            if not 0 < getattr(self, key) <= 1:
                raise ConfigError(f"method.{key}: expected a fraction in (0, 1], got {getattr(self, key)!r}")
        low, high = self.attention_range
        if not 0 <= low < high:
            raise ConfigError(f"method.attention_range: expected 0 <= low < high, got {self.attention_range!r}")

    @property
    def dense_paces(self) -> tuple[float, ...]:
        """Paces of the decoded 2T-frame clips: half of every dilation."""
        return tuple(dilation / 2 for dilation in self.dilations)


def dilated_input(dense: torch.Tensor) -> torch.Tensor:
    """The input clip: the even frames of the dense clip [B, C, 2T, H, W], i.e. every s-th frame."""
    return dense[:, :, 0::2]


def reconstruction_target(dense: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """The dense clip [B, C, 2T, H, W] with every frame that repeats its predecessor (frame indices [B, 2T]) replaced
    by the mean of its neighbours; the last frame has no successor and stays."""
    repeats = frames[:, 1:-1] == frames[:, :-2]  # positions 1 … 2T−2 that repeat the previous frame
    neighbour_mean = (dense[:, :, :-2] + dense[:, :, 2:]) / 2
    target = dense.clone()
    target[:, :, 1:-1] = torch.where(repeats[:, None, :, None, None].to(dense.device), neighbour_mean,
                                     dense[:, :, 1:-1])
    return target


def motion_attention(clips: torch.Tensor, patch: int, stride: int, low: float, high: float) -> torch.Tensor:
    """Weights [B, H, W] for clips [B, C, T, H, W] (T ≥ 2): a Gaussian on the most moving patch (module docstring)."""
    height, width = clips.shape[-2:]
    energy = (clips[:, :, 1:] - clips[:, :, :-1]).pow(2).mean(dim=(1, 2))
    patch_energy = F.avg_pool2d(energy[:, None], kernel_size=patch, stride=stride)[:, 0]
    grid_width = patch_energy.shape[-1]
    best = patch_energy.flatten(1).argmax(dim=1)  # the first maximum on ties
    centre_y = (best // grid_width * stride + (patch - 1) / 2).to(clips.dtype)
    centre_x = (best % grid_width * stride + (patch - 1) / 2).to(clips.dtype)
    sigma = patch / 2
    rows = torch.arange(height, dtype=clips.dtype, device=clips.device)
    cols = torch.arange(width, dtype=clips.dtype, device=clips.device)
    gaussian_y = torch.exp(-((rows[None] - centre_y[:, None]) ** 2) / (2 * sigma**2))
    gaussian_x = torch.exp(-((cols[None] - centre_x[:, None]) ** 2) / (2 * sigma**2))
    gaussian = gaussian_y[:, :, None] * gaussian_x[:, None, :]
    smallest = gaussian.amin(dim=(1, 2), keepdim=True)
    spread = (gaussian.amax(dim=(1, 2), keepdim=True) - smallest).clamp_min(1e-12)
    weights = low + (high - low) * (gaussian - smallest) / spread
    moving = energy.flatten(1).amax(dim=1) > 0
    return torch.where(moving[:, None, None], weights, torch.ones_like(weights))


def deepest_map_tap(backbone) -> tuple[str, int]:
    """(name, channels) of the backbone's deepest spatio-temporal tap [B, C, T, H, W], found with one dry run."""
    frames, size = backbone.default_input
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        outputs = backbone.features(torch.zeros(1, 3, frames, size, size), taps=backbone.tap_names)
    backbone.train(was_training)
    maps = [(name, output.shape[1]) for name, output in outputs.items() if output.dim() == 5]
    if not maps:
        raise VsslError(f"prp needs a backbone with a spatio-temporal feature map; {type(backbone).__name__} has "
                        f"none among its taps {', '.join(backbone.tap_names)}")
    return maps[-1]


class FrameDecoder(nn.Module):
    """Feature map [B, C, t, h, w] → frames [B, 3, T', H, W]: four ×2 transposed-conv stages, a trilinear resize to
    the target size (a no-op for R3D at its strides) and a 3×3×3 output conv."""

    def __init__(self, in_channels: int):
        super().__init__()
        widths = [max(in_channels // divisor, 8) for divisor in DECODER_DIVISORS]
        layers: list[nn.Module] = []
        for width in widths:
            layers += [nn.ConvTranspose3d(in_channels, width, kernel_size=2, stride=2), nn.BatchNorm3d(width),
                       nn.ReLU(inplace=True)]
            in_channels = width
        self.upsample = nn.Sequential(*layers)
        self.to_frames = nn.Conv3d(in_channels, 3, kernel_size=3, padding=1)

    def forward(self, features: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
        x = self.upsample(features)
        if tuple(x.shape[2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode="trilinear", align_corners=False)
        return self.to_frames(x)


class PRP(PretextMethod):
    """Discriminative branch (dilation classifier) and generative branch (motion-attention decoder) on one encoder."""

    def __init__(self, backbone, config: PRPConfig, optim):
        super().__init__(backbone, config, optim)
        self.map_tap, map_channels = deepest_map_tap(backbone)
        self.rate_head = nn.Linear(backbone.feature_dim, len(config.dilations))
        self.decoder = FrameDecoder(map_channels)

    @classmethod
    def build_sampler(cls, config, data):
        """One dense clip of 2·data.clip_len frames at pace s/2 per video (the input is its even frames)."""
        reject_fps_jitter("prp", data)
        return PaceClipSampler(2 * data.clip_len, config.dense_paces)

    def attention(self, target: torch.Tensor) -> torch.Tensor:
        patch = max(1, round(self.config.attention_patch * min(target.shape[-2:])))
        stride = max(1, round(self.config.attention_stride * patch))
        return motion_attention(target, patch, stride, *self.config.attention_range)

    def train_batch(self, batch: dict) -> torch.Tensor:
        dense, frames = batch["clips"][:, 0], batch["frames"][:, 0]  # [B, C, 2T, H, W], [B, 2T]
        labels = torch.tensor([pace_label(row.tolist(), self.config.dense_paces) for row in frames],
                              dtype=torch.long, device=dense.device)
        target = reconstruction_target(dense, frames)
        outputs = self.backbone.features(dilated_input(dense), taps=(self.map_tap, "pool"))
        logits = self.rate_head(outputs["pool"])
        reconstruction = self.decoder(outputs[self.map_tap], tuple(target.shape[2:]))
        weights = self.attention(target)[:, None, None]
        reconstruction_loss = (weights * (reconstruction - target).pow(2)).mean()
        classification = F.cross_entropy(logits, labels)
        loss = self.config.recon_weight * reconstruction_loss + self.config.cls_weight * classification
        self.manual_backward(loss)
        self.log_pretext(logits, labels, classification)
        self.log("train/reconstruction_loss", reconstruction_loss.detach(), on_step=True, on_epoch=True,
                 batch_size=dense.shape[0])
        return loss.detach()
