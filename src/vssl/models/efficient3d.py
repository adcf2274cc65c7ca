"""Resource-efficient 3D CNNs (3D ShuffleNetV1, MobileNetV2, SqueezeNet 1.1) of Köpüklü et al. 2019.

Architectures from "Resource Efficient 3D Convolutional Neural Networks" (Köpüklü, Kose, Gunduz, Rigoll,
ICCVW 2019, arXiv:1904.02422), the small networks of Kumar et al. 2023. Modules, parameter names and outputs
follow the authors' public code (github.com/okankop/Efficient-3DCNNs, ``models/``), except that its
``features`` Sequential is called ``blocks`` here (``features`` is the VideoBackbone method). Every network
starts with a 3x3x3 conv of stride (1,2,2) and halves time and space together at every later
downsampling, so 16x112x112 clips end at 1x4x4. ``width`` is the paper's width multiplier, also usable
to build tiny CPU variants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vssl.core.errors import VsslError
from vssl.models.registry import VideoBackbone, check_num_classes, check_width, register_backbone
from vssl.models.resnet3d import initialize_weights

Stage = Callable[[torch.Tensor], torch.Tensor]

# Output channels of the stem and stages 2-4 per number of groups: Zhang et al. 2018 (ShuffleNet),
# Table 1. The Efficient-3DCNNs code has 567 for the last stage of g=1, a typo of the paper's 576.
SHUFFLENET_CHANNELS = {
    1: (24, 144, 288, 576),
    2: (24, 200, 400, 800),
    3: (24, 240, 480, 960),
    4: (24, 272, 544, 1088),
    8: (24, 384, 768, 1536),
}
SHUFFLENET_DEPTH = (4, 8, 4)  # Zhang et al. 2018, Table 1: blocks in stages 2-4

# MobileNetV2 inverted-residual settings (expansion t, channels c, repeats n, stride s):
# Sandler et al. 2018, Table 2, with every stride-2 row striding time as well (Köpüklü et al. 2019).
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
MOBILENET_V2_STEM_CHANNELS = 32
MOBILENET_V2_LAST_CHANNELS = 1280  # scaled only for width > 1, as in Sandler et al. 2018
# Rows that end the taps layer1..layer4, at 1/4, 1/8, 1/16 and 1/32 of the input size.
MOBILENET_V2_LAYER_LAST_ROWS = (1, 2, 4, 6)

# SqueezeNet 1.1 Fire modules (squeeze, expand 1x1, expand 3x3) in four stages separated by max-pools;
# Iandola et al. 2016 (v1.1 of the reference implementation), bypass on every second Fire module.
SQUEEZENET_STEM_CHANNELS = 64
SQUEEZENET_FIRES = (((16, 64, 64), (16, 64, 64)), ((32, 128, 128), (32, 128, 128)),
                    ((48, 192, 192), (48, 192, 192)), ((64, 256, 256), (64, 256, 256)))

# 16-frame 112x112 clips: Köpüklü et al. 2019 train on them; Kumar et al. 2023 uses 16 frames ("Clip length")
# at 112x112 (its Table 6 comparison).
EFFICIENT_DEFAULT_INPUT = (16, 112)


def scale_width(channels: int, width: float) -> int:
    """``int(channels * width)``, at least 1 (the Efficient-3DCNNs rule: truncation, not rounding)."""
    return max(1, int(channels * width))


def _check_depth(depth: Sequence[int], length: int) -> None:
    if (
        not isinstance(depth, Sequence) or len(depth) != length
        or not all(isinstance(blocks, int) and not isinstance(blocks, bool) and blocks >= 1 for blocks in depth)
    ):
        raise VsslError(f"backbone option depth={depth!r} must be {length} positive ints (blocks per stage)")


def global_average(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T, H, W] -> [B, C]."""
    return x.mean(dim=(2, 3, 4))


def conv_bn_relu(in_channels: int, out_channels: int, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """The 3x3x3 stem conv, stride (1,2,2), with BN and activation (``conv_bn`` in Efficient-3DCNNs)."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=(1, 2, 2), padding=1, bias=False),
        nn.BatchNorm3d(out_channels),
        activation(inplace=True),
    )


class EfficientBackbone(VideoBackbone):
    """Shared forward of the three networks: pooled features, or logits from ``classifier``."""

    default_input = EFFICIENT_DEFAULT_INPUT
    classifier: nn.Module | None
    blocks: nn.Sequential
    layer_bounds: list[int]  # blocks[layer_bounds[i]:layer_bounds[i + 1]] is the i-th tap before "pool"

    def stages(self) -> list[tuple[str, Stage]]:
        bounds = self.layer_bounds
        spans = [self.blocks[start:end] for start, end in zip(bounds, bounds[1:])]
        return [*zip(self.tap_names[:-1], spans), ("pool", global_average)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, feature_dim], or logits [B, num_classes] when the model has a classifier."""
        pooled = self.features(x, taps=("pool",))["pool"]
        return pooled if self.classifier is None else self.classifier(pooled)


def linear_classifier(in_features: int, num_classes: int) -> nn.Sequential | None:
    """Dropout 0.2 then a linear layer (ShuffleNet and MobileNetV2 in Efficient-3DCNNs); None for 0 classes."""
    return nn.Sequential(nn.Dropout(0.2), nn.Linear(in_features, num_classes)) if num_classes > 0 else None


# ---------------------------------------------------------------- 3D ShuffleNetV1


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: [g0c0, g0c1, g1c0, g1c1] -> [g0c0, g1c0, g0c1, g1c1]."""
    batch, channels, *rest = x.shape
    return x.view(batch, groups, channels // groups, *rest).transpose(1, 2).reshape(batch, channels, *rest)


class ShuffleBottleneck(nn.Module):
    """ShuffleNet unit: grouped 1x1x1, channel shuffle, depthwise 3x3x3, grouped 1x1x1.

    Stride 2 concatenates an average-pooled shortcut (so the residual branch makes out - in channels);
    stride 1 adds the identity.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int, groups: int, first_conv_groups: int) -> None:
        super().__init__()
        self.stride = stride
        self.groups = groups
        mid_planes = out_planes // 4
        branch_planes = out_planes - in_planes if stride == 2 else out_planes
        self.conv1 = nn.Conv3d(in_planes, mid_planes, kernel_size=1, groups=first_conv_groups, bias=False)
        self.bn1 = nn.BatchNorm3d(mid_planes)
        self.conv2 = nn.Conv3d(
            mid_planes, mid_planes, kernel_size=3, stride=stride, padding=1, groups=mid_planes, bias=False
        )
        self.bn2 = nn.BatchNorm3d(mid_planes)
        self.conv3 = nn.Conv3d(mid_planes, branch_planes, kernel_size=1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm3d(branch_planes)
        self.relu = nn.ReLU(inplace=True)
        if stride == 2:
            self.shortcut = nn.AvgPool3d(kernel_size=(2, 3, 3), stride=2, padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = channel_shuffle(self.relu(self.bn1(self.conv1(x))), self.groups)
        out = self.bn3(self.conv3(self.bn2(self.conv2(out))))
        merged = torch.cat([out, self.shortcut(x)], 1) if self.stride == 2 else out + x
        return self.relu(merged)


class ShuffleNetV13D(EfficientBackbone):
    """3D ShuffleNetV1: stem conv + max-pool, three stages of bottlenecks (the first of each strides by 2)."""

    tap_names = ("stem", "layer1", "layer2", "layer3", "pool")

    def __init__(self, groups: int, width: float, depth: Sequence[int], num_classes: int) -> None:
        super().__init__()
        channels = self._checked_channels(groups, width, depth, num_classes)
        self.conv1 = conv_bn_relu(3, channels[0])
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        in_planes = channels[0]
        for index, (out_planes, blocks) in enumerate(zip(channels[1:], depth), start=1):
            stage = []
            for block in range(blocks):
                # Zhang et al. 2018 (Sec. 3.3) leave the first 1x1x1 conv ungrouped on the 24 stem channels;
                # Efficient-3DCNNs tests for exactly 24 inputs, so at widths other than 1.0 it is grouped.
                first_conv_groups = 1 if in_planes == SHUFFLENET_CHANNELS[groups][0] else groups
                stride = 2 if block == 0 else 1
                stage.append(ShuffleBottleneck(in_planes, out_planes, stride, groups, first_conv_groups))
                in_planes = out_planes
            setattr(self, f"layer{index}", nn.Sequential(*stage))
        self.feature_dim = channels[-1]
        self.classifier = linear_classifier(self.feature_dim, num_classes)

    @staticmethod
    def _checked_channels(groups: int, width: float, depth: Sequence[int], num_classes: int) -> list[int]:
        if groups not in SHUFFLENET_CHANNELS:
            raise VsslError(f"backbone option groups={groups!r} must be one of {sorted(SHUFFLENET_CHANNELS)}")
        check_width(width)
        _check_depth(depth, 3)
        check_num_classes(num_classes)
        channels = [scale_width(stage_channels, width) for stage_channels in SHUFFLENET_CHANNELS[groups]]
        for in_planes, out_planes in zip(channels, channels[1:]):
            if (out_planes // 4) % groups or (out_planes - in_planes) % groups or in_planes % groups:
                raise VsslError(
                    f"backbone option width={width!r} gives ShuffleNet channels {channels} "
                    f"that {groups} groups cannot split; choose another width"
                )
        return channels

    def stages(self) -> list[tuple[str, Stage]]:
        return [
            ("stem", nn.Sequential(self.conv1, self.maxpool)),
            ("layer1", self.layer1),
            ("layer2", self.layer2),
            ("layer3", self.layer3),
            ("pool", global_average),
        ]


# ---------------------------------------------------------------- 3D MobileNetV2


def conv_1x1x1_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    """Pointwise conv, BN, ReLU6 (the last conv before pooling)."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Pointwise expansion (skipped for t=1), depthwise 3x3x3, linear pointwise projection."""

    def __init__(self, in_planes: int, out_planes: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(in_planes * expand_ratio)
        self.use_res_connect = stride == 1 and in_planes == out_planes
        expansion: list[nn.Module] = []
        if expand_ratio != 1:
            expansion = [nn.Conv3d(in_planes, hidden, 1, bias=False), nn.BatchNorm3d(hidden), nn.ReLU6(inplace=True)]
        self.conv = nn.Sequential(
            *expansion,
            nn.Conv3d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm3d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv3d(hidden, out_planes, 1, bias=False),
            nn.BatchNorm3d(out_planes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV23D(EfficientBackbone):
    """3D MobileNetV2: stem conv, 17 inverted residuals, 1x1x1 conv to 1280 channels."""

    tap_names = ("stem", "layer1", "layer2", "layer3", "layer4", "conv_last", "pool")

    def __init__(self, width: float, depth: Sequence[int], num_classes: int) -> None:
        super().__init__()
        check_width(width)
        _check_depth(depth, len(MOBILENET_V2_SETTINGS))
        check_num_classes(num_classes)
        in_planes = scale_width(MOBILENET_V2_STEM_CHANNELS, width)
        blocks: list[nn.Module] = [conv_bn_relu(3, in_planes, nn.ReLU6)]
        self.layer_bounds = [0, 1]
        for row, ((expand_ratio, channels, _, stride), repeats) in enumerate(zip(MOBILENET_V2_SETTINGS, depth)):
            out_planes = scale_width(channels, width)
            for repeat in range(repeats):
                blocks.append(InvertedResidual(in_planes, out_planes, stride if repeat == 0 else 1, expand_ratio))
                in_planes = out_planes
            if row in MOBILENET_V2_LAYER_LAST_ROWS:
                self.layer_bounds.append(len(blocks))
        self.feature_dim = scale_width(MOBILENET_V2_LAST_CHANNELS, max(1.0, width))
        blocks.append(conv_1x1x1_bn(in_planes, self.feature_dim))
        self.layer_bounds.append(len(blocks))
        self.blocks = nn.Sequential(*blocks)
        self.classifier = linear_classifier(self.feature_dim, num_classes)
        _init_mobilenet_v2(self)


def _init_mobilenet_v2(model: nn.Module) -> None:
    """Efficient-3DCNNs' MobileNetV2 init, N(0, 2/(k^3 * out_channels)) convs (Kaiming fan-out), unit BN,
    N(0, 0.01) linear: the same as torchvision's video ResNet init."""
    initialize_weights(model)


# ---------------------------------------------------------------- 3D SqueezeNet 1.1


class Fire(nn.Module):
    """1x1x1 squeeze, then concatenated 1x1x1 and 3x3x3 expands, each with BN; optional identity bypass."""

    def __init__(self, in_planes: int, squeeze: int, expand1x1: int, expand3x3: int, use_bypass: bool) -> None:
        super().__init__()
        self.use_bypass = use_bypass
        self.relu = nn.ReLU(inplace=True)
        self.squeeze = nn.Conv3d(in_planes, squeeze, kernel_size=1)
        self.squeeze_bn = nn.BatchNorm3d(squeeze)
        self.expand1x1 = nn.Conv3d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_bn = nn.BatchNorm3d(expand1x1)
        self.expand3x3 = nn.Conv3d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_bn = nn.BatchNorm3d(expand3x3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = self.relu(self.squeeze_bn(self.squeeze(x)))
        out = torch.cat([self.expand1x1_bn(self.expand1x1(squeezed)), self.expand3x3_bn(self.expand3x3(squeezed))], 1)
        return self.relu(out + x if self.use_bypass else out)


class SqueezeNet3D(EfficientBackbone):
    """3D SqueezeNet 1.1 with bypass: stem conv + max-pool, then four stages of two Fires.

    The classifier is SqueezeNet's: dropout 0.5, 1x1x1 conv to the classes, ReLU, then global averaging.
    """

    tap_names = ("stem", "layer1", "layer2", "layer3", "layer4", "pool")

    def __init__(self, width: float, num_classes: int) -> None:
        super().__init__()
        check_width(width)
        check_num_classes(num_classes)
        in_planes = scale_width(SQUEEZENET_STEM_CHANNELS, width)
        blocks: list[nn.Module] = [
            nn.Conv3d(3, in_planes, kernel_size=3, stride=(1, 2, 2), padding=1),
            nn.BatchNorm3d(in_planes),
            nn.ReLU(inplace=True),
        ]
        pool_positions = []
        for fires in SQUEEZENET_FIRES:
            pool_positions.append(len(blocks))
            blocks.append(nn.MaxPool3d(kernel_size=3, stride=2, padding=1))
            for fire_index, (squeeze, expand1x1, expand3x3) in enumerate(fires):
                squeeze, expand1x1, expand3x3 = (scale_width(c, width) for c in (squeeze, expand1x1, expand3x3))
                blocks.append(Fire(in_planes, squeeze, expand1x1, expand3x3, use_bypass=fire_index == 1))
                in_planes = expand1x1 + expand3x3
        # The first max-pool ends the stem; each later one opens a stage.
        self.layer_bounds = [0, pool_positions[0] + 1, *pool_positions[1:], len(blocks)]
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = in_planes
        self.classifier = None
        if num_classes > 0:
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Conv3d(in_planes, num_classes, kernel_size=1), nn.ReLU(inplace=True)
            )
        _init_squeezenet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, feature_dim], or logits [B, num_classes] (class map, ReLU, then averaged)."""
        if self.classifier is None:
            return super().forward(x)
        return global_average(self.classifier(self.features(x, taps=("layer4",))["layer4"]))


def _init_squeezenet(model: nn.Module) -> None:
    """Efficient-3DCNNs' SqueezeNet init: Kaiming-normal (fan_out) conv weights, unit BN."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


# ---------------------------------------------------------------- registered builders


@register_backbone("shufflenet_v1_3d")
def shufflenet_v1_3d(
    width: float = 2.0, groups: int = 3, depth: Sequence[int] = SHUFFLENET_DEPTH, num_classes: int = 0
) -> ShuffleNetV13D:
    """3D ShuffleNetV1; defaults 2.0x with 3 groups, the small network of Kumar et al. 2023 (Sec. 3)."""
    return ShuffleNetV13D(groups, width, depth, num_classes)


@register_backbone("mobilenet_v2_3d")
def mobilenet_v2_3d(
    width: float = 1.0, depth: Sequence[int] = tuple(row[2] for row in MOBILENET_V2_SETTINGS), num_classes: int = 0
) -> MobileNetV23D:
    """3D MobileNetV2 1.0x; ``depth`` = repeats of the seven inverted-residual rows."""
    return MobileNetV23D(width, depth, num_classes)


@register_backbone("squeezenet_3d")
def squeezenet_3d(width: float = 1.0, num_classes: int = 0) -> SqueezeNet3D:
    """3D SqueezeNet 1.1 with bypass connections."""
    return SqueezeNet3D(width, num_classes)
