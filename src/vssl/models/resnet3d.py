"""Video ResNets R3D-18, MC3-18 and R(2+1)D-18, module-for-module equal to torchvision.models.video.

Architectures from Tran et al. 2018, "A Closer Look at Spatiotemporal Convolutions for Action
Recognition" (arXiv:1711.11248). Module and parameter names follow torchvision, so a torchvision
state dict loads with ``load_state_dict(strict=True)`` (given the same ``num_classes``).
``width`` scales every channel count and ``depth`` sets the blocks per stage, for tiny CPU variants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vssl.errors import VsslError
from vssl.models.registry import VideoBackbone, register_backbone

STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
RESNET18_DEPTH = (2, 2, 2, 2)
# torchvision's R2Plus1dStem: 45 midplanes between the (1,7,7) spatial and (3,1,1) temporal convs.
R2PLUS1D_STEM_MIDPLANES = 45


def scale_channels(channels: int, width: float) -> int:
    """``channels * width`` rounded to the nearest int, at least 1."""
    return max(1, round(channels * width))


class Conv3DSimple(nn.Conv3d):
    """Full 3x3x3 convolution (R3D)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1) -> None:
        super().__init__(in_planes, out_planes, kernel_size=(3, 3, 3), stride=stride, padding=1, bias=False)

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return stride, stride, stride


class Conv2Plus1D(nn.Sequential):
    """(1,3,3) spatial conv, BN, ReLU, then (3,1,1) temporal conv (R(2+1)D)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv3d(
                in_planes, midplanes, kernel_size=(1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False
            ),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(
                midplanes, out_planes, kernel_size=(3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False
            ),
        )

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return stride, stride, stride


class Conv3DNoTemporal(nn.Conv3d):
    """(1,3,3) purely spatial convolution, no temporal stride (MC3 stages 2-4)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1) -> None:
        super().__init__(
            in_planes, out_planes, kernel_size=(1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False
        )

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return 1, stride, stride


ConvBuilder = type[Conv3DSimple] | type[Conv2Plus1D] | type[Conv3DNoTemporal]


class BasicBlock(nn.Module):
    """Two convs with BN and a residual connection (1x1x1 conv + BN shortcut when the shape changes)."""

    def __init__(self, in_planes: int, planes: int, conv_builder: ConvBuilder, stride: int = 1) -> None:
        super().__init__()
        # (2+1)D midplanes keep the parameter count of the full 3x3x3 conv (Tran et al. 2018, R(2+1)D section).
        midplanes = (in_planes * planes * 3 * 3 * 3) // (in_planes * 3 * 3 + 3 * planes)
        self.conv1 = nn.Sequential(
            conv_builder(in_planes, planes, midplanes, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_planes, planes, kernel_size=1, stride=conv_builder.downsample_stride(stride), bias=False),
                nn.BatchNorm3d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


def basic_stem(width: float) -> nn.Sequential:
    """3x7x7 conv, stride (1,2,2), BN, ReLU (R3D and MC3)."""
    out_channels = scale_channels(STAGE_CHANNELS[0], width)
    return nn.Sequential(
        nn.Conv3d(3, out_channels, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def r2plus1d_stem(width: float) -> nn.Sequential:
    """(1,7,7) spatial conv stride (1,2,2), BN, ReLU, (3,1,1) temporal conv, BN, ReLU (R(2+1)D)."""
    midplanes = scale_channels(R2PLUS1D_STEM_MIDPLANES, width)
    out_channels = scale_channels(STAGE_CHANNELS[0], width)
    return nn.Sequential(
        nn.Conv3d(3, midplanes, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(midplanes),
        nn.ReLU(inplace=True),
        nn.Conv3d(midplanes, out_channels, kernel_size=(3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def _check_options(width: float, depth: Sequence[int], num_classes: int) -> None:
    if isinstance(width, bool) or not isinstance(width, (int, float)) or width <= 0:
        raise VsslError(f"backbone option width={width!r} must be a positive number")
    if len(depth) != 4 or not all(isinstance(blocks, int) and blocks >= 1 for blocks in depth):
        raise VsslError(f"backbone option depth={depth!r} must be four positive ints (blocks per stage)")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise VsslError(f"backbone option num_classes={num_classes!r} must be an int >= 0 (0 = no classifier)")


class VideoResNet(VideoBackbone):
    """torchvision's VideoResNet with BasicBlocks; ``num_classes=0`` leaves out the ``fc`` classifier."""

    tap_names = ("stem", "layer1", "layer2", "layer3", "layer4", "pool")
    # 16-frame 112x112 clips, as torchvision's Kinetics-400 weights and Tran et al. 2018 use.
    default_input = (16, 112)

    def __init__(
        self,
        stem: Callable[[float], nn.Sequential],
        conv_builders: Sequence[ConvBuilder],
        width: float = 1.0,
        depth: Sequence[int] = RESNET18_DEPTH,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        _check_options(width, depth, num_classes)
        channels = [scale_channels(stage_channels, width) for stage_channels in STAGE_CHANNELS]
        self.stem = stem(width)
        in_planes = channels[0]
        for index, (planes, blocks, stride, conv_builder) in enumerate(
            zip(channels, depth, STAGE_STRIDES, conv_builders), start=1
        ):
            stage = [BasicBlock(in_planes, planes, conv_builder, stride)]
            stage += [BasicBlock(planes, planes, conv_builder) for _ in range(blocks - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*stage))
            in_planes = planes
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.feature_dim = channels[-1]
        self.fc = nn.Linear(self.feature_dim, num_classes) if num_classes > 0 else None
        _initialize_weights(self)

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        return [
            ("stem", self.stem),
            ("layer1", self.layer1),
            ("layer2", self.layer2),
            ("layer3", self.layer3),
            ("layer4", self.layer4),
            ("pool", self._pool),
        ]

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, feature_dim], or logits [B, num_classes] when the model has ``fc``."""
        pooled = self.features(x, taps=("pool",))["pool"]
        return pooled if self.fc is None else self.fc(pooled)


def _initialize_weights(model: nn.Module) -> None:
    """torchvision's init: Kaiming-normal (fan_out) convs, unit BN, N(0, 0.01) linear."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            nn.init.zeros_(module.bias)


@register_backbone("r3d_18")
def r3d_18(width: float = 1.0, depth: Sequence[int] = RESNET18_DEPTH, num_classes: int = 0) -> VideoResNet:
    """R3D-18: full 3x3x3 convolutions in every stage."""
    return VideoResNet(basic_stem, [Conv3DSimple] * 4, width, depth, num_classes)


@register_backbone("mc3_18")
def mc3_18(width: float = 1.0, depth: Sequence[int] = RESNET18_DEPTH, num_classes: int = 0) -> VideoResNet:
    """MC3-18: 3x3x3 convolutions in stage 1, purely spatial (1x3x3) ones in stages 2-4."""
    return VideoResNet(basic_stem, [Conv3DSimple] + [Conv3DNoTemporal] * 3, width, depth, num_classes)


@register_backbone("r2plus1d_18")
def r2plus1d_18(width: float = 1.0, depth: Sequence[int] = RESNET18_DEPTH, num_classes: int = 0) -> VideoResNet:
    """R(2+1)D-18: every 3x3x3 convolution factorised into (1,3,3) spatial and (3,1,1) temporal ones."""
    return VideoResNet(r2plus1d_stem, [Conv2Plus1D] * 4, width, depth, num_classes)
