"""Video Swin Transformer (Liu et al. 2022): 3D shifted-window attention over 2x4x4 patches, four stages.

Follows ``SwinTransformer3D`` of github.com/SwinTransformer/Video-Swin-Transformer (mmaction backbone)
and its state-dict names (``patch_embed.proj``, ``layers.I.blocks.J.attn.relative_position_bias_table``,
``layers.I.downsample.reduction``, ``norm``), so its checkpoints load once their ``backbone.`` prefix is
stripped and ``cls_head.fc_cls`` is renamed ``head``. Outputs equal the original's for any input size:
windows larger than the feature map shrink to it (and stop shifting), and a shrunk window of N tokens
takes the first N rows and columns of the full window's relative-position index, as the original does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.errors import VsslError
from vssl.models.registry import VideoBackbone, check_num_classes, check_width, register_backbone
from vssl.models.vit import DropPath, Mlp, check_drop_path_rate, drop_path_rates, init_transformer_weights

Size3 = tuple[int, int, int]

# Swin-T of Liu et al. 2022 (Video Swin), Sec. 3.3 and Sec. 4.1 (Kinetics-400 setting).
PATCH_SIZE = (2, 4, 4)
SWIN_T_DEPTH = (2, 2, 6, 2)
SWIN_T_HEADS = (3, 6, 12, 24)
HEAD_DIM = 32  # C = 96 with 3 heads in stage 1
WINDOW_SIZE = (8, 7, 7)
MLP_RATIO = 4
SWIN_DEFAULT_INPUT = (32, 224)  # 32 frames (temporal stride 2) of 224x224 crops
# Score added between tokens of different regions in a shifted window (the original uses -100, not -inf).
MASKED_SCORE = -100.0


def effective_window(size: Sequence[int], window: Size3, shift: Size3) -> tuple[Size3, Size3]:
    """Window and shift per axis; an axis no longer than the window gets a window of its length, no shift."""
    pairs = [(length, 0) if length <= w else (w, s) for length, w, s in zip(size, window, shift)]
    return tuple(w for w, _ in pairs), tuple(s for _, s in pairs)


def window_partition(x: torch.Tensor, window: Size3) -> torch.Tensor:
    """[B, D, H, W, C] -> [B * windows, tokens per window, C]; windows and their tokens in (d, h, w) order."""
    batch, depth, height, width, channels = x.shape
    wd, wh, ww = window
    x = x.view(batch, depth // wd, wd, height // wh, wh, width // ww, ww, channels)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, wd * wh * ww, channels)


def window_reverse(windows: torch.Tensor, window: Size3, batch: int, size: Size3) -> torch.Tensor:
    """Inverse of ``window_partition``: [B * windows, tokens, C] -> [B, D, H, W, C]."""
    (depth, height, width), (wd, wh, ww) = size, window
    x = windows.view(batch, depth // wd, height // wh, width // ww, wd, wh, ww, -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(batch, depth, height, width, -1)


def shifted_window_mask(size: Size3, window: Size3, shift: Size3, device: torch.device | None = None) -> torch.Tensor:
    """[windows, N, N] scores to add inside each window of a feature map rolled back by ``shift``.

    The roll brings tokens from opposite borders into the same window; each axis splits into three
    regions (before the last window, the last window minus the shift, the wrapped-around shift),
    and tokens of different regions get ``MASKED_SCORE`` so they do not attend to each other.
    """
    regions = torch.zeros(1, *size, 1, device=device)
    per_axis = [(slice(0, -w), slice(-w, -s), slice(-s, None)) for w, s in zip(window, shift)]
    for label, (d, h, w) in enumerate(itertools.product(*per_axis)):
        regions[:, d, h, w] = label
    labels = window_partition(regions, window).squeeze(-1)
    different = labels[:, None, :] != labels[:, :, None]
    return torch.zeros(different.shape, device=device).masked_fill(different, MASKED_SCORE)


def relative_position_index(window: Size3) -> torch.Tensor:
    """[N, N] row of the bias table for every token pair (i, j) of a window, N = Wd * Wh * Ww.

    The offset (dd, dh, dw) = position i - position j indexes the (2Wd-1) x (2Wh-1) x (2Ww-1) table
    in row-major order.
    """
    coords = torch.stack(torch.meshgrid(*(torch.arange(w) for w in window), indexing="ij")).flatten(1)
    offsets = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + torch.tensor(window) - 1
    wd, wh, ww = window
    return offsets[..., 0] * (2 * wh - 1) * (2 * ww - 1) + offsets[..., 1] * (2 * ww - 1) + offsets[..., 2]


class WindowAttention3D(nn.Module):
    """Multi-head self-attention inside windows, plus a learned bias per relative offset and head."""

    def __init__(self, dim: int, window: Size3, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        table_rows = math.prod(2 * w - 1 for w in window)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(table_rows, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x [B * windows, N, C]; mask [windows, N, N] (shifted windows) or None."""
        num_windows_total, tokens, channels = x.shape
        # For a window shrunk to the map, the original slices the full index: exact when only the temporal
        # extent shrinks, an approximation it makes (and we keep, for equal outputs) when a spatial one does.
        index = self.relative_position_index[:tokens, :tokens]
        bias = self.relative_position_bias_table[index.reshape(-1)].reshape(tokens, tokens, -1).permute(2, 0, 1)
        scores_added = bias if mask is None else bias + mask.unsqueeze(1)
        windows_per_clip = 1 if mask is None else mask.shape[0]
        qkv = self.qkv(x).reshape(-1, windows_per_clip, tokens, 3, self.num_heads, channels // self.num_heads)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5)  # each [B, windows, heads, N, head_dim]
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=scores_added.to(q.dtype))
        return self.proj(attended.transpose(2, 3).reshape(num_windows_total, tokens, channels))


class SwinBlock3D(nn.Module):
    """Pre-norm block: (shifted) window attention, then MLP, each residual with stochastic depth."""

    def __init__(self, dim: int, num_heads: int, window: Size3, shift: Size3, drop_path: float) -> None:
        super().__init__()
        self.window_size = window
        self.shift_size = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, window, num_heads)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * MLP_RATIO)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x [B, D, H, W, C]; ``mask`` from ``shifted_window_mask`` for this map, used when the block shifts."""
        x = x + self.drop_path(self._window_attention(self.norm1(x), mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def _window_attention(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        batch, *size, _ = x.shape
        window, shift = effective_window(size, self.window_size, self.shift_size)
        padding = [(-length) % w for length, w in zip(size, window)]
        x = F.pad(x, (0, 0, 0, padding[2], 0, padding[1], 0, padding[0]))
        padded_size = tuple(x.shape[1:4])
        shifted = any(shift)
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
        windows = self.attn(window_partition(x, window), mask if shifted else None)
        x = window_reverse(windows, window, batch, padded_size)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, : size[0], : size[1], : size[2]]


class PatchMerging(nn.Module):
    """Concatenate each 2x2 spatial neighbourhood (4C), LayerNorm, linear to 2C; time is kept."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, D, H, W, C] -> [B, D, ceil(H/2), ceil(W/2), 2C]."""
        x = F.pad(x, (0, 0, 0, x.shape[3] % 2, 0, x.shape[2] % 2))
        neighbours = [x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]]
        return self.reduction(self.norm(torch.cat(neighbours, dim=-1)))


class BasicLayer(nn.Module):
    """One stage: blocks alternating regular and shifted windows; ``downsample`` feeds the next stage."""

    def __init__(self, dim: int, depth: int, num_heads: int, window: Size3, drop_paths: list[float],
                 downsample: bool) -> None:
        super().__init__()
        self.window_size = window
        self.shift_size = tuple(w // 2 for w in window)
        self.blocks = nn.ModuleList(
            SwinBlock3D(dim, num_heads, window, (0, 0, 0) if index % 2 == 0 else self.shift_size, drop_paths[index])
            for index in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blocks only (no downsampling), channels last: [B, D, H, W, C] -> same shape."""
        window, shift = effective_window(x.shape[1:4], self.window_size, self.shift_size)
        mask = None
        if any(shift):
            padded_size = tuple(math.ceil(length / w) * w for length, w in zip(x.shape[1:4], window))
            mask = shifted_window_mask(padded_size, window, shift, x.device)
        for block in self.blocks:
            x = block(x, mask)
        return x


class PatchEmbed3D(nn.Module):
    """2x4x4 patches -> C channels (zero-padding the clip to patch multiples), then LayerNorm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv3d(3, dim, kernel_size=PATCH_SIZE, stride=PATCH_SIZE)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] -> [B, C, ceil(T/2), ceil(H/4), ceil(W/4)]."""
        padding = [(-length) % patch for length, patch in zip(x.shape[2:], PATCH_SIZE)]
        x = self.proj(F.pad(x, (0, padding[2], 0, padding[1], 0, padding[0])))
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


def _positive_ints(values: Sequence[int], length: int) -> bool:
    return (
        isinstance(values, Sequence) and len(values) == length
        and all(isinstance(value, int) and not isinstance(value, bool) and value >= 1 for value in values)
    )


def channels_last(stage: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Run a [B, D, H, W, C] function on a [B, C, D, H, W] tensor, returning [B, C, D', H', W']."""
    return lambda x: stage(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class SwinTransformer3D(VideoBackbone):
    """Video Swin: patch embedding, four stages (C, 2C, 4C, 8C channels), final LayerNorm, average pooling.

    Taps are [B, C_i, D, H_i, W_i]: "stage1" before any merging, "stageN" (N > 1) after the previous
    stage's patch merging and this stage's blocks, "stage4" after the final norm; "pool" is [B, 8C].
    """

    tap_names = ("embed", "stage1", "stage2", "stage3", "stage4", "pool")
    default_input = SWIN_DEFAULT_INPUT

    def __init__(self, embed_dim: int, depth: Sequence[int], num_heads: Sequence[int], window: Sequence[int],
                 num_classes: int, drop_path_rate: float) -> None:
        super().__init__()
        if not _positive_ints(depth, 4):
            raise VsslError(f"backbone option depth={depth!r} must be four positive ints (blocks per stage)")
        if not _positive_ints(window, 3):
            raise VsslError(f"backbone option window_size={window!r} must be three positive ints (T, H, W)")
        check_num_classes(num_classes)
        check_drop_path_rate(drop_path_rate)
        self.patch_embed = PatchEmbed3D(embed_dim)
        rates = drop_path_rates(drop_path_rate, sum(depth))
        starts = [sum(depth[:index]) for index in range(4)]
        self.layers = nn.ModuleList(
            BasicLayer(embed_dim * 2**index, depth[index], num_heads[index], tuple(window),
                       rates[starts[index]: starts[index] + depth[index]], downsample=index < 3)
            for index in range(4)
        )
        self.feature_dim = embed_dim * 8
        self.norm = nn.LayerNorm(self.feature_dim)
        self.head = nn.Linear(self.feature_dim, num_classes) if num_classes > 0 else None
        self._init_weights()

    def _init_weights(self) -> None:
        """Video Swin init: the ViT init plus truncated N(0, 0.02) bias tables; N(0, 0.01) head."""
        init_transformer_weights(self)
        for module in self.modules():
            if isinstance(module, WindowAttention3D):
                nn.init.trunc_normal_(module.relative_position_bias_table, std=0.02)
        if self.head is not None:
            nn.init.normal_(self.head.weight, std=0.01)  # mmaction I3DHead, init_std=0.01

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        first, second, third, fourth = self.layers
        return [
            ("embed", self.patch_embed),
            ("stage1", channels_last(first)),
            ("stage2", channels_last(lambda x: second(first.downsample(x)))),
            ("stage3", channels_last(lambda x: third(second.downsample(x)))),
            ("stage4", channels_last(lambda x: self.norm(fourth(third.downsample(x))))),
            ("pool", lambda x: x.mean(dim=(2, 3, 4))),
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, 8C], or logits [B, num_classes] when the model has ``head``."""
        pooled = self.features(x, taps=("pool",))["pool"]
        return pooled if self.head is None else self.head(pooled)


@register_backbone("swin3d_t")
def swin3d_t(
    width: float = 1.0,
    depth: Sequence[int] = SWIN_T_DEPTH,
    window_size: Sequence[int] = WINDOW_SIZE,
    num_classes: int = 0,
    drop_path_rate: float = 0.0,
) -> SwinTransformer3D:
    """Video Swin-T: C = 96, depth (2,2,6,2), heads (3,6,12,24), window 8x7x7; ``width`` scales channels per head.

    Liu et al. train Swin-T on Kinetics-400 with ``drop_path_rate`` 0.1 (the official config).
    """
    check_width(width)
    embed_dim = SWIN_T_HEADS[0] * max(1, round(HEAD_DIM * width))
    return SwinTransformer3D(embed_dim, depth, SWIN_T_HEADS, window_size, num_classes, drop_path_rate)
