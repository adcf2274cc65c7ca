"""Video ResNets: torchvision's R3D / MC3 / R(2+1)D (18 and 34 layers), VCOP's light variants, Slow pathways.

Architectures:
- R3D, MC3, R(2+1)D: Tran et al. 2018, "A Closer Look at Spatiotemporal Convolutions for Action
  Recognition" (arXiv:1711.11248). Module and parameter names follow torchvision, so a torchvision
  state dict loads into ``r3d_18`` / ``mc3_18`` / ``r2plus1d_18`` with ``load_state_dict(strict=True)``.
- ``r3d_light`` / ``r2plus1d_light``: the one-block-per-stage networks of VCOP (Xu et al. 2019) as Wang 2020's
  code (github.com/laura-wang/video-pace, models/r3d.py and r21d.py) builds them; Wang 2020 Tables 3.1 and 4.7
  give both as 14.4M.
- ``slow_r18`` / ``slow_r50`` / ``slow_r101``: the Slow pathway of SlowFast (Feichtenhofer et al. 2019),
  Feichtenhofer et al. 2021 Table 17 and Table 5.

``width`` scales every channel count and ``depth`` sets the blocks per stage, for tiny CPU variants.
This module also holds the pieces the other backbone modules share (option checks, init, ``ClassifiableBackbone``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vssl.core.errors import VsslError
from vssl.models.registry import VideoBackbone, check_num_classes, check_width, register_backbone

STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
RESNET18_DEPTH = (2, 2, 2, 2)
# He et al. 2016 Table 1: ResNet-34 and ResNet-50 have 3-4-6-3 blocks, ResNet-101 has 3-4-23-3.
RESNET34_DEPTH = (3, 4, 6, 3)
RESNET50_DEPTH = (3, 4, 6, 3)
RESNET101_DEPTH = (3, 4, 23, 3)
# VCOP (Xu et al. 2019) R3D / R(2+1)D: layer_sizes (1, 1, 1, 1), one residual block per stage (Wang 2020 Ch. 4:
# R3D-18 "contains four basic residual block[s]"; video-pace builds R3DNet((1, 1, 1, 1))).
LIGHT_DEPTH = (1, 1, 1, 1)
# torchvision's R2Plus1dStem: 45 midplanes between the (1,7,7) and (3,1,1) convs (VCOP computes 83 instead).
R2PLUS1D_STEM_MIDPLANES = 45
# 16-frame 112x112 clips, as torchvision's Kinetics-400 weights, Tran et al. 2018 and VCOP use.
CLIP_16X112 = (16, 112)
# Slow pathway: 8 frames (T x tau = 8 x 8) at 224x224 (Feichtenhofer et al. 2021 Table 5 and Table 17).
CLIP_8X224 = (8, 224)
# Slow pathway temporal kernels per stage (res2..res5; Feichtenhofer et al. 2021 Table 17: non-degenerate only in res4/res5) and
# how many leading blocks of each stage get them (PySlowFast RESNET.NUM_BLOCK_TEMP_KERNEL default [3, 4, 6, 3]).
# The block limit only matters for R-101, whose res4 has 23 blocks: only its first 6 are temporal, which is what
# reproduces Feichtenhofer et al. 2021 Table 5's 51.4M (all 23 temporal would give 60.4M) and its 93.3 GFLOPs (MACs; that row
# matches a 256^2 input, the rows 224^2).
SLOW_TEMPORAL_KERNELS = (1, 1, 3, 3)
SLOW_TEMPORAL_BLOCKS = (3, 4, 6, 3)
BOTTLENECK_EXPANSION = 4


def scale_channels(channels: int, width: float) -> int:
    """``channels * width`` rounded to the nearest int, at least 1."""
    return max(1, round(channels * width))


def check_width_and_classes(width: float, num_classes: int) -> None:
    """Raise VsslError unless ``width`` is a positive number and ``num_classes`` an int >= 0."""
    check_width(width)
    check_num_classes(num_classes)


def check_depth(depth: Sequence[int]) -> None:
    """Raise VsslError unless ``depth`` is four positive ints (blocks per stage)."""
    if len(depth) != 4 or not all(isinstance(blocks, int) and blocks >= 1 for blocks in depth):
        raise VsslError(f"backbone option depth={depth!r} must be four positive ints (blocks per stage)")


def initialize_weights(model: nn.Module) -> None:
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


class ClassifiableBackbone(VideoBackbone):
    """A backbone whose last tap is "pool" (features [B, feature_dim]) and an optional ``fc`` classifier."""

    fc: nn.Linear | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [B, feature_dim], or logits [B, num_classes] when the model has ``fc``."""
        pooled = self.features(x, taps=("pool",))["pool"]
        return pooled if self.fc is None else self.fc(pooled)

    def _classifier(self, num_classes: int) -> nn.Linear | None:
        return nn.Linear(self.feature_dim, num_classes) if num_classes > 0 else None


def r2plus1d_midplanes(in_planes: int, out_planes: int, kernel: tuple[int, int, int] = (3, 3, 3)) -> int:
    """Midplanes that give a (2+1)D conv the parameters of the full t x d x d conv (Tran et al. 2018 §3.5)."""
    temporal, height, width = kernel
    return (temporal * height * width * in_planes * out_planes) // (height * width * in_planes + temporal * out_planes)


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


def pointwise_shortcut(in_planes: int, planes: int, stride: tuple[int, int, int]) -> nn.Sequential:
    """1x1x1 conv + BN projection shortcut (torchvision)."""
    return nn.Sequential(
        nn.Conv3d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm3d(planes),
    )


def factorised_pointwise_shortcut(in_planes: int, planes: int, stride: tuple[int, int, int]) -> nn.Sequential:
    """VCOP's R(2+1)D shortcut: its 1x1x1 conv is itself split into spatial and temporal 1x1x1 convs.

    VCOP builds the shortcut with the same SpatioTemporalConv as the residual branch (kernel 1), so it has
    in*out // (in + out) midplanes and a BN + ReLU in between; the spatial part takes the spatial stride and
    the temporal part the temporal stride.
    """
    midplanes = r2plus1d_midplanes(in_planes, planes, (1, 1, 1))
    temporal_stride, height_stride, width_stride = stride
    return nn.Sequential(
        nn.Sequential(
            nn.Conv3d(in_planes, midplanes, kernel_size=1, stride=(1, height_stride, width_stride), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, planes, kernel_size=1, stride=(temporal_stride, 1, 1), bias=False),
        ),
        nn.BatchNorm3d(planes),
    )


ShortcutBuilder = Callable[[int, int, tuple[int, int, int]], nn.Sequential]


class BasicBlock(nn.Module):
    """Two convs with BN and a residual connection (a projection shortcut when the shape changes)."""

    expansion = 1

    def __init__(
        self,
        in_planes: int,
        planes: int,
        conv_builder: ConvBuilder,
        stride: int = 1,
        shortcut: ShortcutBuilder = pointwise_shortcut,
        midplanes_per_conv: bool = False,
    ) -> None:
        super().__init__()
        # torchvision's r2plus1d_18 sizes both convs' midplanes from (in_planes, planes); the Caffe2 original
        # (IG-65M weights) and VCOP size each conv from its own channels (``midplanes_per_conv``), which gives
        # conv2 of a widening block more midplanes.
        midplanes = r2plus1d_midplanes(in_planes, planes)
        conv2_midplanes = r2plus1d_midplanes(planes, planes) if midplanes_per_conv else midplanes
        self.conv1 = nn.Sequential(
            conv_builder(in_planes, planes, midplanes, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True)
        )
        self.conv2 = nn.Sequential(conv_builder(planes, planes, conv2_midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = shortcut(in_planes, planes, conv_builder.downsample_stride(stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


class SlowBasicBlock(nn.Module):
    """Slow R-18 block: [kt x 3^2; 1 x 3^2] convs with BN, spatial stride only (PySlowFast basic_transform)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, temporal_kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(
            in_planes,
            planes,
            kernel_size=(temporal_kernel, 3, 3),
            stride=(1, stride, stride),
            padding=(temporal_kernel // 2, 1, 1),
            bias=False,
        )
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = pointwise_shortcut(in_planes, planes, (1, stride, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class SlowBottleneck(nn.Module):
    """Slow R-50/101 block: [kt x 1^2, C; 1 x 3^2, C; 1 x 1^2, 4C] with BN (Feichtenhofer et al. 2021 Table 17).

    The spatial stride sits in the 1x3^2 conv (PySlowFast STRIDE_1X1 False); there is never a temporal stride.
    """

    expansion = BOTTLENECK_EXPANSION

    def __init__(self, in_planes: int, planes: int, temporal_kernel: int, stride: int = 1) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv3d(
            in_planes, planes, kernel_size=(temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), bias=False
        )
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(
            planes, planes, kernel_size=(1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False
        )
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, out_planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != out_planes:
            self.downsample = pointwise_shortcut(in_planes, out_planes, (1, stride, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + shortcut)


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
    return factorised_stem(scale_channels(R2PLUS1D_STEM_MIDPLANES, width), scale_channels(STAGE_CHANNELS[0], width))


def vcop_r2plus1d_stem(width: float) -> nn.Sequential:
    """As ``r2plus1d_stem`` with the 3x7x7 conv's parameter-matching midplanes (83 at full width; VCOP)."""
    out_channels = scale_channels(STAGE_CHANNELS[0], width)
    return factorised_stem(r2plus1d_midplanes(3, out_channels, (3, 7, 7)), out_channels)


def factorised_stem(midplanes: int, out_channels: int) -> nn.Sequential:
    """(1,7,7) conv stride (1,2,2) to ``midplanes``, BN, ReLU, (3,1,1) conv to ``out_channels``, BN, ReLU."""
    return nn.Sequential(
        nn.Conv3d(3, midplanes, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(midplanes),
        nn.ReLU(inplace=True),
        nn.Conv3d(midplanes, out_channels, kernel_size=(3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def slow_stem(width: float) -> nn.Sequential:
    """conv1 1x7^2 stride (1,2,2), BN, ReLU, pool1 1x3^2 max stride (1,2,2) (Feichtenhofer et al. 2021 Table 17)."""
    out_channels = scale_channels(STAGE_CHANNELS[0], width)
    return nn.Sequential(
        nn.Conv3d(3, out_channels, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    )


# (stage index 0-3, block index in the stage, in_planes, planes, stride) -> residual block
BlockBuilder = Callable[[int, int, int, int, int], nn.Module]


def tran_blocks(conv_builders: Sequence[ConvBuilder], midplanes_per_conv: bool = False) -> BlockBuilder:
    """Blocks of torchvision's VideoResNet: a BasicBlock with the stage's conv builder."""

    def build(stage: int, index: int, in_planes: int, planes: int, stride: int) -> nn.Module:
        return BasicBlock(in_planes, planes, conv_builders[stage], stride, midplanes_per_conv=midplanes_per_conv)

    return build


def vcop_r2plus1d_blocks(stage: int, index: int, in_planes: int, planes: int, stride: int) -> nn.Module:
    """VCOP's R(2+1)D block: midplanes sized per conv, projection shortcut factorised as well."""
    return BasicBlock(in_planes, planes, Conv2Plus1D, stride, factorised_pointwise_shortcut, midplanes_per_conv=True)


def slow_temporal_kernel(stage: int, index: int) -> int:
    """Temporal kernel of block ``index`` of stage ``stage`` (0 = res2) in a Slow pathway."""
    return SLOW_TEMPORAL_KERNELS[stage] if index < SLOW_TEMPORAL_BLOCKS[stage] else 1


def slow_blocks(block: type[SlowBasicBlock] | type[SlowBottleneck]) -> BlockBuilder:
    """Blocks of a Slow pathway: temporal kernels only in res4/res5 (see SLOW_TEMPORAL_BLOCKS)."""

    def build(stage: int, index: int, in_planes: int, planes: int, stride: int) -> nn.Module:
        return block(in_planes, planes, slow_temporal_kernel(stage, index), stride)

    return build


class VideoResNet(ClassifiableBackbone):
    """A four-stage video ResNet (torchvision's VideoResNet layout); ``num_classes=0`` leaves out ``fc``."""

    tap_names = ("stem", "layer1", "layer2", "layer3", "layer4", "pool")

    def __init__(
        self,
        stem: Callable[[float], nn.Sequential],
        block_builder: BlockBuilder,
        width: float = 1.0,
        depth: Sequence[int] = RESNET18_DEPTH,
        num_classes: int = 0,
        expansion: int = 1,
        default_input: tuple[int, int] = CLIP_16X112,
    ) -> None:
        super().__init__()
        check_width_and_classes(width, num_classes)
        check_depth(depth)
        self.default_input = default_input
        self.stem = stem(width)
        in_planes = scale_channels(STAGE_CHANNELS[0], width)
        for stage, (channels, blocks, stride) in enumerate(zip(STAGE_CHANNELS, depth, STAGE_STRIDES)):
            planes = scale_channels(channels, width)
            layer = [
                block_builder(stage, index, in_planes if index == 0 else planes * expansion, planes,
                              stride if index == 0 else 1)
                for index in range(blocks)
            ]
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layer))
            in_planes = planes * expansion
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.feature_dim = in_planes
        self.fc = self._classifier(num_classes)
        initialize_weights(self)

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


R3D_CONVS = [Conv3DSimple] * 4
MC3_CONVS = [Conv3DSimple] + [Conv3DNoTemporal] * 3
R2PLUS1D_CONVS = [Conv2Plus1D] * 4


@register_backbone("r3d_18")
def r3d_18(width: float = 1.0, depth: Sequence[int] = RESNET18_DEPTH, num_classes: int = 0) -> VideoResNet:
    """R3D-18: full 3x3x3 convolutions in every stage."""
    return VideoResNet(basic_stem, tran_blocks(R3D_CONVS), width, depth, num_classes)


@register_backbone("mc3_18")
def mc3_18(width: float = 1.0, depth: Sequence[int] = RESNET18_DEPTH, num_classes: int = 0) -> VideoResNet:
    """MC3-18: 3x3x3 convolutions in stage 1, purely spatial (1x3x3) ones in stages 2-4."""
    return VideoResNet(basic_stem, tran_blocks(MC3_CONVS), width, depth, num_classes)


@register_backbone("r2plus1d_18")
def r2plus1d_18(width: float = 1.0, depth: Sequence[int] = RESNET18_DEPTH, num_classes: int = 0) -> VideoResNet:
    """R(2+1)D-18: every 3x3x3 convolution factorised into (1,3,3) spatial and (3,1,1) temporal ones."""
    return VideoResNet(r2plus1d_stem, tran_blocks(R2PLUS1D_CONVS), width, depth, num_classes)


@register_backbone("r3d_34")
def r3d_34(width: float = 1.0, depth: Sequence[int] = RESNET34_DEPTH, num_classes: int = 0) -> VideoResNet:
    """R3D-34: R3D with 3-4-6-3 basic blocks (Tran et al. 2018), torchvision layout."""
    return VideoResNet(basic_stem, tran_blocks(R3D_CONVS), width, depth, num_classes)


@register_backbone("r2plus1d_34")
def r2plus1d_34(width: float = 1.0, depth: Sequence[int] = RESNET34_DEPTH, num_classes: int = 0) -> VideoResNet:
    """R(2+1)D-34 as the IG-65M weights (Ghadiyaram et al. 2019; moabitcoin/ig65m-pytorch) define it.

    torchvision layout and key names, 3-4-6-3 blocks, but midplanes sized per conv as in the original Caffe2
    model (conv2 of the first block of layers 2-4 gets 288 / 576 / 1152, where r2plus1d_18 reuses conv1's).
    """
    return VideoResNet(r2plus1d_stem, tran_blocks(R2PLUS1D_CONVS, midplanes_per_conv=True), width, depth,
                       num_classes)


@register_backbone("r3d_light")
def r3d_light(width: float = 1.0, depth: Sequence[int] = LIGHT_DEPTH, num_classes: int = 0) -> VideoResNet:
    """VCOP's "R3D-18": one R3D block per stage (the same network as r3d_18 with depth (1,1,1,1))."""
    return VideoResNet(basic_stem, tran_blocks(R3D_CONVS), width, depth, num_classes)


@register_backbone("r2plus1d_light")
def r2plus1d_light(width: float = 1.0, depth: Sequence[int] = LIGHT_DEPTH, num_classes: int = 0) -> VideoResNet:
    """VCOP's R(2+1)D: one R(2+1)D block per stage; every conv, the stem's and shortcuts' included, factorised
    with its own parameter-matching midplanes (so it differs from r2plus1d_18 with depth (1,1,1,1))."""
    return VideoResNet(vcop_r2plus1d_stem, vcop_r2plus1d_blocks, width, depth, num_classes)


@register_backbone("slow_r18")
def slow_r18(width: float = 1.0, depth: Sequence[int] = RESNET18_DEPTH, num_classes: int = 0) -> VideoResNet:
    """Slow R-18 (Feichtenhofer et al. 2021 Table 5): basic blocks, temporal kernel 3 in the first conv of res4/res5 blocks."""
    return VideoResNet(slow_stem, slow_blocks(SlowBasicBlock), width, depth, num_classes,
                       default_input=CLIP_8X224)


@register_backbone("slow_r50")
def slow_r50(width: float = 1.0, depth: Sequence[int] = RESNET50_DEPTH, num_classes: int = 0) -> VideoResNet:
    """Slow R-50 (Feichtenhofer et al. 2021 Table 17): bottlenecks, temporal kernel 3 in the first 1x1^2 conv of res4/res5."""
    return VideoResNet(slow_stem, slow_blocks(SlowBottleneck), width, depth, num_classes,
                       expansion=BOTTLENECK_EXPANSION, default_input=CLIP_8X224)


@register_backbone("slow_r101")
def slow_r101(width: float = 1.0, depth: Sequence[int] = RESNET101_DEPTH, num_classes: int = 0) -> VideoResNet:
    """Slow R-101 (Feichtenhofer et al. 2021 Table 5): as Slow R-50 with 23 res4 blocks, of which the first 6 are temporal."""
    return VideoResNet(slow_stem, slow_blocks(SlowBottleneck), width, depth, num_classes,
                       expansion=BOTTLENECK_EXPANSION, default_input=CLIP_8X224)
