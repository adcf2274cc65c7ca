"""Video ViT of VideoMAE (Tong et al. 2022): 2x16x16 tubelet tokens, fixed sinusoidal positions, pre-norm blocks.

Follows ``modeling_finetune.py`` of github.com/MCG-NJU/VideoMAE (mean pooling, ``fc_norm``) with its
state-dict names (``patch_embed.proj``, ``blocks.N.attn.qkv`` with separate ``q_bias``/``v_bias`` and no key
bias, ``blocks.N.norm1``, ``fc_norm``, ``head``), so VideoMAE fine-tuned checkpoints load directly.
Position embeddings are a fixed table, not parameters, as in VideoMAE. ``forward`` and ``encode`` accept a
``visible_mask`` to run the encoder on a subset of tokens, as VideoMAE's masked pre-training does.
Also hosts the transformer parts (``Mlp``, ``DropPath``, option checks) that ``swin3d`` reuses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.errors import VsslError
from vssl.models.registry import VideoBackbone, check_num_classes, check_width, register_backbone

TUBELET_SIZE = (2, 16, 16)  # Tong et al. 2022, Sec. 4: 2x16x16 cube embedding
HEAD_DIM = 64  # ViT-S/16 (384 / 6) and ViT-B/16 (768 / 12), Dosovitskiy et al. 2021, Table 1
MLP_RATIO = 4
LAYER_NORM_EPS = 1e-6  # VideoMAE's norm_layer = partial(nn.LayerNorm, eps=1e-6)
# VideoMAE fine-tuning scales the initial head by --init_scale 0.001 (run_class_finetuning.py default).
HEAD_INIT_SCALE = 0.001
# 16 frames of 224x224: Tong et al. 2022, Sec. 4 (Kinetics-400 and Something-Something V2).
VIDEOMAE_DEFAULT_INPUT = (16, 224)


def check_drop_path_rate(drop_path_rate: float) -> None:
    """Raise VsslError unless ``drop_path_rate`` is in [0, 1)."""
    if isinstance(drop_path_rate, bool) or not isinstance(drop_path_rate, (int, float)) or not 0 <= drop_path_rate < 1:
        raise VsslError(f"backbone option drop_path_rate={drop_path_rate!r} must be in [0, 1)")


def scaled_head_dim(width: float) -> int:
    """Channels per attention head, ``round(HEAD_DIM * width)``, at least 1: widths stay divisible by heads."""
    return max(1, round(HEAD_DIM * width))


def drop_path_rates(drop_path_rate: float, num_blocks: int) -> list[float]:
    """Stochastic depth rising linearly from 0 at the first block to ``drop_path_rate`` at the last."""
    return [drop_path_rate * index / max(num_blocks - 1, 1) for index in range(num_blocks)]


class DropPath(nn.Module):
    """Stochastic depth: zero a residual branch for a random subset of samples while training."""

    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0:
            return x
        keep_prob = 1 - self.drop_prob
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep_prob)
        return x * keep / keep_prob


class Mlp(nn.Module):
    """Linear, GELU, linear (``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def sinusoid_position_table(num_positions: int, dim: int) -> torch.Tensor:
    """[num_positions, dim] table: sin(p / 10000^(2i/dim)) at column 2i, cos of the same angle at 2i+1.

    VideoMAE's ``get_sinusoid_encoding_table`` (Vaswani et al. 2017), over the flattened token index.
    """
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]
    exponents = 2 * (torch.arange(dim) // 2).to(torch.float64) / dim
    angles = positions / 10000**exponents
    angles[:, 0::2] = angles[:, 0::2].sin()
    angles[:, 1::2] = angles[:, 1::2].cos()
    return angles.float()


class Attention(nn.Module):
    """Multi-head self-attention with VideoMAE's biases: learned for queries and values, none for keys."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # softmax(q k^T / sqrt(head_dim)) v
        return self.proj(attended.transpose(1, 2).reshape(batch, tokens, dim))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)), with stochastic depth."""

    def __init__(self, dim: int, num_heads: int, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, num_heads)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, dim * MLP_RATIO)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TubeletEmbed(nn.Module):
    """Non-overlapping tubelets -> tokens: [B, 3, T, H, W] -> [B, T/2 * H/16 * W/16, dim], (t, h, w) order."""

    def __init__(self, dim: int, tubelet_size: tuple[int, int, int] = TUBELET_SIZE) -> None:
        super().__init__()
        self.tubelet_size = tubelet_size
        self.proj = nn.Conv3d(3, dim, kernel_size=tubelet_size, stride=tubelet_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(size % tubelet for size, tubelet in zip(x.shape[2:], self.tubelet_size)):
            raise VsslError(
                f"video ViT input of shape {tuple(x.shape)}: frames, height and width must be multiples "
                f"of the tubelet size {self.tubelet_size}"
            )
        return self.proj(x).flatten(2).transpose(1, 2)


def select_visible(tokens: torch.Tensor, visible_mask: torch.Tensor) -> torch.Tensor:
    """Tokens [B, N, D] where ``visible_mask`` [B, N] is True, kept in order: [B, N_visible, D].

    Every row must keep the same number of tokens, as VideoMAE's tube masking does.
    """
    batch, num_tokens, dim = tokens.shape
    if visible_mask.dtype != torch.bool or tuple(visible_mask.shape) != (batch, num_tokens):
        raise VsslError(
            f"visible_mask must be a bool tensor of shape {(batch, num_tokens)}, "
            f"got {visible_mask.dtype} {tuple(visible_mask.shape)}"
        )
    counts = visible_mask.sum(dim=1)
    if not bool((counts == counts[0]).all()):
        raise VsslError(f"visible_mask keeps {counts.tolist()} tokens per clip; every clip must keep the same number")
    return tokens[visible_mask].reshape(batch, -1, dim)


def init_transformer_weights(model: nn.Module) -> None:
    """ViT / Swin init: truncated N(0, 0.02) linear weights, zero biases, unit LayerNorm."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class VideoViT(VideoBackbone):
    """VideoMAE's ViT: tubelet tokens + fixed positions, ``depth`` blocks, mean pooling then ``fc_norm``.

    Token taps ("embed", "blockN") are [B, N, dim] in (t, h, w) order; "pool" is [B, dim].
    """

    default_input = VIDEOMAE_DEFAULT_INPUT

    def __init__(self, dim: int, depth: int, num_heads: int, num_classes: int, drop_path_rate: float) -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise VsslError(f"backbone option depth={depth!r} must be a positive int (number of blocks)")
        check_num_classes(num_classes)
        check_drop_path_rate(drop_path_rate)
        self.feature_dim = dim
        self.tap_names = ("embed", *(f"block{index}" for index in range(1, depth + 1)), "pool")
        self.patch_embed = TubeletEmbed(dim)
        frames, size = self.default_input
        default_tokens = (frames // TUBELET_SIZE[0]) * (size // TUBELET_SIZE[1]) * (size // TUBELET_SIZE[2])
        self.register_buffer("pos_embed", sinusoid_position_table(default_tokens, dim)[None], persistent=False)
        self.blocks = nn.ModuleList(Block(dim, num_heads, rate) for rate in drop_path_rates(drop_path_rate, depth))
        self.fc_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(dim, num_classes) if num_classes > 0 else None
        self._init_weights()

    def _init_weights(self) -> None:
        """VideoMAE fine-tuning init (see :func:`init_transformer_weights`)."""
        init_transformer_weights(self)
        if self.head is not None:
            with torch.no_grad():
                self.head.weight.mul_(HEAD_INIT_SCALE)

    def position_embedding(self, num_tokens: int) -> torch.Tensor:
        """[1, num_tokens, dim] fixed table (a prefix of any longer table, so cached for the default input)."""
        if num_tokens <= self.pos_embed.shape[1]:
            return self.pos_embed[:, :num_tokens]
        return sinusoid_position_table(num_tokens, self.feature_dim)[None].to(self.pos_embed)

    def embed(self, x: torch.Tensor, visible_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Tubelet tokens plus positions, [B, N, dim]; only the visible ones when ``visible_mask`` is given."""
        tokens = self.patch_embed(x)
        tokens = tokens + self.position_embedding(tokens.shape[1])
        return tokens if visible_mask is None else select_visible(tokens, visible_mask)

    def encode(self, x: torch.Tensor, visible_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Token features after the last block, [B, N or N_visible, dim] (no final norm)."""
        tokens = self.embed(x, visible_mask)
        for block in self.blocks:
            tokens = block(tokens)
        return tokens

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean over tokens, then ``fc_norm``: [B, N, dim] -> [B, dim]."""
        return self.fc_norm(tokens.mean(dim=1))

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        blocks = [(f"block{index}", block) for index, block in enumerate(self.blocks, start=1)]
        return [("embed", self.embed), *blocks, ("pool", self.pool)]

    def forward(self, x: torch.Tensor, visible_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled features [B, dim] of all (or the visible) tokens, or logits [B, num_classes] with ``head``."""
        pooled = self.pool(self.encode(x, visible_mask))
        return pooled if self.head is None else self.head(pooled)


def block_count(depth: int | tuple[int, ...]) -> int:
    """The number of blocks, given as an int or as the one-stage tuple of ``model.depth`` (``[4]``)."""
    if isinstance(depth, (tuple, list)) and len(depth) == 1:
        return depth[0]
    return depth


@register_backbone("vit_s16")
def vit_s16(width: float = 1.0, depth: int | tuple[int] = 12, num_classes: int = 0,
            drop_path_rate: float = 0.0) -> VideoViT:
    """ViT-S/16 video encoder: dim 384, 12 blocks, 6 heads; ``width`` scales the channels per head."""
    check_width(width)
    return VideoViT(6 * scaled_head_dim(width), block_count(depth), 6, num_classes, drop_path_rate)


@register_backbone("vit_b16")
def vit_b16(width: float = 1.0, depth: int | tuple[int] = 12, num_classes: int = 0,
            drop_path_rate: float = 0.0) -> VideoViT:
    """ViT-B/16 video encoder: dim 768, 12 blocks, 12 heads; ``width`` scales the channels per head."""
    check_width(width)
    return VideoViT(12 * scaled_head_dim(width), block_count(depth), 12, num_classes, drop_path_rate)
