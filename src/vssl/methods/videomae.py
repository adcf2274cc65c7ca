"""VideoMAE (Tong et al. 2022): tube masking of 2×16×16 tokens, an encoder that sees only the visible ones, and a
light decoder that predicts the per-patch normalised pixels of the masked ones, with MSE on those alone.

Defaults follow the paper (§3.3–3.4, Table 1 and its released ``modeling_pretrain.py``): mask ratio 90 %, the same
spatial positions hidden in every frame (tube masking), a 4-block decoder of width 384 with 6 heads for ViT-B, each
token's target its own pixels normalised by their mean and standard deviation per channel. Needs a video ViT
backbone (``vit_s16``, ``vit_b16``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.data.transforms import KINETICS_MEAN, KINETICS_STD
from vssl.methods.base import Method, OneClipPerVideo
from vssl.models.vit import LAYER_NORM_EPS, TUBELET_SIZE, Block, VideoViT, init_transformer_weights, \
    sinusoid_position_table

TARGET_EPS = 1e-6  # modeling_pretrain / run_mae_pretraining: (x − mean) / (std + 1e-6)
MASK_RATIOS = {"C1": 0.75, "C2": 0.9, "C3": 0.95}  # task complexity: Tong et al. 2022 Fig. 3 (75–95 %)


@dataclass
class VideoMAEConfig:
    mask_ratio: float = ranged(0.9, gt=0, lt=1)  # Tong et al. 2022 §3.4: 90 % (Fig. 3: 90–95 % best)
    complexity: str | None = None  # C1 / C2 / C3 = mask ratio 75 / 90 / 95 % (Kumar et al. 2023 varies it)
    decoder_dim: int = ranged(384, ge=1)  # Tong et al. 2022 Table 1 (ViT-B): decoder width 384 ...
    decoder_depth: int = ranged(4, ge=1)  # ... 4 blocks
    decoder_heads: int = ranged(6, ge=1)
    normalise_target: bool = True  # per-patch normalised pixels (§3.4, as MAE)

    def __post_init__(self):
        if self.complexity is not None:
            if self.complexity not in MASK_RATIOS:
                raise ConfigError(f"method.complexity={self.complexity!r}: expected one of {', '.join(MASK_RATIOS)}")
            self.mask_ratio = MASK_RATIOS[self.complexity]
        if self.decoder_dim % self.decoder_heads:
            raise ConfigError(f"method.decoder_dim={self.decoder_dim} must be a multiple of "
                              f"method.decoder_heads={self.decoder_heads}")


def tube_mask(batch: int, frames: int, positions: int, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Bool [batch, frames·positions], True = masked: int(ratio · positions) spatial positions per clip, drawn
    uniformly, hidden in every one of its ``frames`` temporal slices (VideoMAE's TubeMaskingGenerator)."""
    hidden = int(ratio * positions)
    if hidden == 0:
        raise ConfigError(f"method.mask_ratio={ratio} hides none of the {positions} token position(s) of a clip's "
                          f"frames: use larger crops (16 px per token) or a higher ratio")
    order = torch.rand(batch, positions, generator=generator).argsort(dim=1)
    spatial = torch.zeros(batch, positions, dtype=torch.bool)
    spatial.scatter_(1, order[:, :hidden], True)
    return spatial.repeat(1, frames)  # token order is (t, h, w): position p of slice t is t·positions + p


def patch_targets(clips: torch.Tensor, normalise: bool,
                  mean=KINETICS_MEAN, std=KINETICS_STD) -> torch.Tensor:
    """Normalised clips [B, 3, T, H, W] → the pixels of every 2×16×16 token in 0..1, [B, N, 2·16·16·3] ((t, h, w)
    token order; pixels ordered (dt, dy, dx, channel)), each token normalised by its own mean and unbiased std per
    channel when ``normalise``."""
    dt, dy, dx = TUBELET_SIZE
    pixels = clips * torch.tensor(std, dtype=clips.dtype, device=clips.device).view(1, 3, 1, 1, 1) \
        + torch.tensor(mean, dtype=clips.dtype, device=clips.device).view(1, 3, 1, 1, 1)
    b, c, t, h, w = pixels.shape
    tokens = pixels.view(b, c, t // dt, dt, h // dy, dy, w // dx, dx).permute(0, 2, 4, 6, 3, 5, 7, 1)
    tokens = tokens.reshape(b, (t // dt) * (h // dy) * (w // dx), dt * dy * dx, c)
    if normalise:
        tokens = (tokens - tokens.mean(dim=2, keepdim=True)) / (tokens.var(dim=2, unbiased=True, keepdim=True).sqrt()
                                                                 + TARGET_EPS)
    return tokens.flatten(2)


class Decoder(nn.Module):
    """Visible encoder tokens → decoder width, mask tokens at the hidden positions, fixed sinusoidal positions,
    transformer blocks, then a linear map to each hidden token's pixels."""

    def __init__(self, encoder_dim: int, config: VideoMAEConfig):
        super().__init__()
        self.encoder_to_decoder = nn.Linear(encoder_dim, config.decoder_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_dim))
        self.blocks = nn.ModuleList(Block(config.decoder_dim, config.decoder_heads, 0.0)
                                    for _ in range(config.decoder_depth))
        self.norm = nn.LayerNorm(config.decoder_dim, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(config.decoder_dim, 3 * TUBELET_SIZE[0] * TUBELET_SIZE[1] * TUBELET_SIZE[2])
        init_transformer_weights(self)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, visible: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """visible [B, N_v, D_enc], mask [B, N] → predictions [B, N_m, pixels] in the order of the hidden tokens."""
        batch, num_tokens = mask.shape
        positions = sinusoid_position_table(num_tokens, self.mask_token.shape[-1]).to(visible)[None].expand(batch, -1,
                                                                                                              -1)
        width = self.mask_token.shape[-1]
        shown = self.encoder_to_decoder(visible) + positions[~mask].view(batch, -1, width)
        hidden = self.mask_token + positions[mask].view(batch, -1, width)
        tokens = torch.cat([shown, hidden], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens[:, shown.shape[1]:]))


class VideoMAE(OneClipPerVideo, Method):
    """One clip per video (random start); the loss is the MSE over the hidden tokens' pixels."""

    def __init__(self, backbone, config: VideoMAEConfig, optim):
        if not isinstance(backbone, VideoViT):
            raise ConfigError(f"method videomae needs a video ViT backbone (vit_s16, vit_b16), got "
                              f"{type(backbone).__name__}")
        super().__init__(backbone, config, optim)
        self.decoder = Decoder(backbone.feature_dim, config)


    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        clips = views[:, 0]
        b, _, t, h, w = clips.shape
        positions = (h // TUBELET_SIZE[1]) * (w // TUBELET_SIZE[2])
        generator = torch.Generator().manual_seed(self.global_step)  # a function of the step: resumable
        mask = tube_mask(b, t // TUBELET_SIZE[0], positions, self.config.mask_ratio, generator).to(clips.device)
        predicted = self.decoder(self.backbone.encode(clips, ~mask), mask)
        with torch.no_grad():
            target = patch_targets(clips.float(), self.config.normalise_target)[mask].view(b, -1, predicted.shape[-1])
        loss = F.mse_loss(predicted.float(), target)
        self.manual_backward(loss)
        return loss.detach()
