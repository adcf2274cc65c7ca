"""I3D (Carreira & Zisserman 2017): Inception-v1 inflated to 3D; also the Inception-v1 skeleton S3D-G reuses.

Layout (Carreira & Zisserman 2017 Fig. 3; DeepMind kinetics-i3d / TF-slim endpoint names): Conv_1a 7^3 stride 2,
MaxPool_2a 1x3^2 stride (1,2,2), Conv_2b 1^3, Conv_2c 3^3, MaxPool_3a 1x3^2 stride (1,2,2), Mixed_3b-3c,
MaxPool_4a 3^3 stride 2, Mixed_4b-4f, MaxPool_5a 2^3 stride 2, Mixed_5b-5c, global average pool -> 1024.
Every conv is conv (no bias) + BatchNorm + ReLU, as in the PyTorch ports (pytorch-i3d's Unit3D). TF's "SAME"
pooling is replaced by symmetric padding, which gives the same output sizes for even inputs.

Taps: "stem" (after MaxPool_3a), "mixed_3" / "mixed_4" / "mixed_5" (outputs of Mixed_3c / 4f / 5c), "pool".
``width`` scales every channel count (like TF's depth_multiplier, without its minimum of 16).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from vssl.models.registry import register_backbone
from vssl.models.resnet3d import ClassifiableBackbone, check_width_and_classes, initialize_weights, scale_channels

# Inception-v1 (Szegedy et al. 2015 Table 1) as inflated by I3D and S3D-G (TF-slim i3d/s3dg.py): per Mixed block
# (branch0 1x1, branch1 1x1 -> 3x3, branch2 1x1 -> 3x3, branch3 pool -> 1x1) output channels.
MIXED_3 = OrderedDict(
    mixed_3b=(64, 96, 128, 16, 32, 32),
    mixed_3c=(128, 128, 192, 32, 96, 64),
)
MIXED_4 = OrderedDict(
    mixed_4b=(192, 96, 208, 16, 48, 64),
    mixed_4c=(160, 112, 224, 24, 64, 64),
    mixed_4d=(128, 128, 256, 24, 64, 64),
    mixed_4e=(112, 144, 288, 32, 64, 64),
    mixed_4f=(256, 160, 320, 32, 128, 128),
)
MIXED_5 = OrderedDict(
    mixed_5b=(256, 160, 320, 32, 128, 128),
    mixed_5c=(384, 192, 384, 48, 128, 128),
)
STEM_CHANNELS = (64, 64, 192)  # Conv_1a, Conv_2b, Conv_2c
# Carreira & Zisserman 2017, implementation details: trained on 64-frame snippets with 224x224 crops.
CLIP_64X224 = (64, 224)

# Output channels of a Mixed block: branch0, branch1 (1x1, 3x3), branch2 (1x1, 3x3), branch3.
MixedChannels = tuple[int, int, int, int, int, int]
# (in_channels, out_channels, kernel, stride, padding) -> conv + BN + ReLU module(s)
SpatiotemporalConv = Callable[[int, int, int, int, int], nn.Module]
# channels -> gating module applied to a branch output (None: no gating)
GatingBuilder = Callable[[int], nn.Module] | None


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    """Full k^3 conv (no bias), BN, ReLU (I3D's Unit3D)."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


class InceptionBlock3D(nn.Module):
    """Four parallel branches concatenated: 1^3; 1^3 -> 3^3; 1^3 -> 3^3; 3^3 max pool -> 1^3 (optional gating)."""

    def __init__(
        self,
        in_channels: int,
        channels: MixedChannels,
        spatiotemporal_conv: SpatiotemporalConv,
        gating: GatingBuilder = None,
    ) -> None:
        super().__init__()
        out_0, mid_1, out_1, mid_2, out_2, out_3 = channels
        self.branch0 = conv_bn_relu(in_channels, out_0, 1)
        self.branch1 = nn.Sequential(conv_bn_relu(in_channels, mid_1, 1), spatiotemporal_conv(mid_1, out_1, 3, 1, 1))
        self.branch2 = nn.Sequential(conv_bn_relu(in_channels, mid_2, 1), spatiotemporal_conv(mid_2, out_2, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(kernel_size=3, stride=1, padding=1),
                                     conv_bn_relu(in_channels, out_3, 1))
        self.gates = None if gating is None else nn.ModuleList(gating(c) for c in (out_0, out_1, out_2, out_3))
        self.out_channels = out_0 + out_1 + out_2 + out_3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)]
        if self.gates is not None:
            outputs = [gate(output) for gate, output in zip(self.gates, outputs)]
        return torch.cat(outputs, dim=1)


def mixed_stage(
    in_channels: int,
    blocks: OrderedDict[str, MixedChannels],
    spatiotemporal_conv: SpatiotemporalConv,
    gating: GatingBuilder,
    width: float,
    pool: tuple[str, nn.MaxPool3d] | None = None,
) -> tuple[nn.Sequential, int]:
    """(optional leading max pool, then the Mixed blocks) as one Sequential, and its output channels."""
    layers: OrderedDict[str, nn.Module] = OrderedDict([pool] if pool is not None else [])
    for name, channels in blocks.items():
        scaled = tuple(scale_channels(c, width) for c in channels)
        layers[name] = InceptionBlock3D(in_channels, scaled, spatiotemporal_conv, gating)
        in_channels = layers[name].out_channels
    return nn.Sequential(layers), in_channels


class InceptionV1Video(ClassifiableBackbone):
    """Inception-v1 video network.

    ``spatiotemporal_conv`` builds the 7^3 stride-2 Conv_1a, Conv_2c and the 3^3 convs of the Mixed branches;
    ``gating`` (if given) follows every branch of every Mixed block.
    """

    tap_names = ("stem", "mixed_3", "mixed_4", "mixed_5", "pool")

    def __init__(
        self,
        spatiotemporal_conv: SpatiotemporalConv,
        gating: GatingBuilder = None,
        width: float = 1.0,
        num_classes: int = 0,
        default_input: tuple[int, int] = CLIP_64X224,
    ) -> None:
        super().__init__()
        check_width_and_classes(width, num_classes)
        self.default_input = default_input
        conv_1a, conv_2b, conv_2c = (scale_channels(channels, width) for channels in STEM_CHANNELS)
        self.stem = nn.Sequential(OrderedDict(
            conv_1a=spatiotemporal_conv(3, conv_1a, 7, 2, 3),
            maxpool_2a=nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            conv_2b=conv_bn_relu(conv_1a, conv_2b, 1),
            conv_2c=spatiotemporal_conv(conv_2b, conv_2c, 3, 1, 1),
            maxpool_3a=nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        ))
        block_options = (spatiotemporal_conv, gating, width)
        self.mixed_3, in_channels = mixed_stage(conv_2c, MIXED_3, *block_options)
        maxpool_4a = ("maxpool_4a", nn.MaxPool3d(kernel_size=3, stride=2, padding=1))
        self.mixed_4, in_channels = mixed_stage(in_channels, MIXED_4, *block_options, pool=maxpool_4a)
        maxpool_5a = ("maxpool_5a", nn.MaxPool3d(kernel_size=2, stride=2))
        self.mixed_5, in_channels = mixed_stage(in_channels, MIXED_5, *block_options, pool=maxpool_5a)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.feature_dim = in_channels
        self.fc = self._classifier(num_classes)
        initialize_weights(self)

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        return [
            ("stem", self.stem),
            ("mixed_3", self.mixed_3),
            ("mixed_4", self.mixed_4),
            ("mixed_5", self.mixed_5),
            ("pool", self._pool),
        ]

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(x).flatten(1)


@register_backbone("i3d")
def i3d(width: float = 1.0, num_classes: int = 0) -> InceptionV1Video:
    """I3D (RGB stream): Inception-v1 with every k^2 conv inflated to k^3 (Carreira & Zisserman 2017)."""
    return InceptionV1Video(conv_bn_relu, width=width, num_classes=num_classes)
