"""C3D (Tran et al. 2015): the original 8-conv network with fc6/fc7, C3D with BatchNorm, and the light C3D.

- ``c3d``: Tran et al. 2015, "Learning Spatiotemporal Features with 3D Convolutional Networks", Fig. 3:
  conv1a 64 | pool1 | conv2a 128 | pool2 | conv3a,b 256 | pool3 | conv4a,b 512 | pool4 | conv5a,b 512 | pool5 |
  fc6 4096 | fc7 4096; all convs 3x3x3 stride 1, pool1 1x2x2, the other pools 2x2x2. The clip feature ("pool") is
  fc7, the descriptor the paper uses.
- ``c3d_bn``: the same 8 convs, each followed by BatchNorm, no pool5 and no fc layers: conv5b is globally
  average-pooled to 512-d (VCOP's C3D; Wang 2020's code, github.com/laura-wang/video-pace models/c3d.py).
- ``c3d_light``: Wang 2020 Table 2.1 (Tran et al. 2015 §3): five convs 64-128-256-256-256, five pools, fc6 and
  fc7 of 2048.

Taps are named after the pooling layers (Wang 2020 reads features at pool3/pool4/pool5; "conv5" for c3d_bn,
which has no pool5), then fc6, then "pool", the clip feature. Every conv has a bias (Caffe C3D; VCOP keeps it
next to BatchNorm).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vssl.models.registry import register_backbone
from vssl.models.resnet3d import (
                                  CLIP_16X112,
                                  ClassifiableBackbone,
                                  check_width_and_classes,
                                  initialize_weights,
                                  scale_channels,
                                  )

# Tran et al. 2015 Fig. 3: output channels of conv1..conv5 and how many 3x3x3 convs each block has.
C3D_CHANNELS = (64, 128, 256, 512, 512)
C3D_CONVS_PER_BLOCK = (1, 1, 2, 2, 2)
C3D_FC_DIM = 4096
# Wang 2020 Table 2.1 (light C3D; the kernel-depth study network of Tran et al. 2015 §3): one conv per block,
# fc6/fc7 of 2048.
LIGHT_C3D_CHANNELS = (64, 128, 256, 256, 256)
LIGHT_C3D_CONVS_PER_BLOCK = (1, 1, 1, 1, 1)
LIGHT_C3D_FC_DIM = 2048
# pool5 output for a 16x112x112 clip: 1x4x4 (pool5 pads H and W by 1, as the Caffe model's ceil-mode pooling).
POOL5_OUTPUT = (1, 4, 4)
# Caffe C3D train prototxt: dropout 0.5 after fc6 and fc7.
FC_DROPOUT = 0.5


def conv_block(in_channels: int, out_channels: int, convs: int, batch_norm: bool, pool: nn.MaxPool3d | None
               ) -> nn.Sequential:
    """``convs`` 3x3x3 convs (stride 1, padding 1) each with ReLU (and BN before it), then ``pool`` if any."""
    layers: list[nn.Module] = []
    for index in range(convs):
        layers.append(nn.Conv3d(in_channels if index == 0 else out_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm3d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    if pool is not None:
        layers.append(pool)
    return nn.Sequential(*layers)


def block_pool(block: int) -> nn.MaxPool3d:
    """pool1 is 1x2x2 (keeps early temporal information), pool2-4 2x2x2, pool5 2x2x2 padded (0,1,1)."""
    if block == 0:
        return nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
    if block == 4:
        return nn.MaxPool3d(kernel_size=2, stride=2, padding=(0, 1, 1))
    return nn.MaxPool3d(kernel_size=2, stride=2)


def fc_layer(in_features: int, out_features: int) -> nn.Sequential:
    """Linear, ReLU, dropout 0.5."""
    return nn.Sequential(nn.Linear(in_features, out_features), nn.ReLU(inplace=True), nn.Dropout(FC_DROPOUT))


class C3D(ClassifiableBackbone):
    """Five conv blocks (block1..block5 -> taps pool1..pool5), then fc6/fc7 or a global average pool.

    Without fc layers (``fc_dim=0``) block5 has no max pool (tap "conv5") and is globally average-pooled.
    With fc layers, pool5 is adaptively average-pooled to 1x4x4 before fc6: the identity for 16-frame 112x112
    clips (the published input), and what lets other clip sizes reach the fixed-size fc6.
    """

    default_input = CLIP_16X112

    def __init__(
        self,
        channels: Sequence[int],
        convs_per_block: Sequence[int],
        fc_dim: int,
        batch_norm: bool,
        width: float = 1.0,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        check_width_and_classes(width, num_classes)
        in_channels = 3
        for block, (block_channels, convs) in enumerate(zip(channels, convs_per_block)):
            out_channels = scale_channels(block_channels, width)
            pool = None if block == 4 and fc_dim == 0 else block_pool(block)
            setattr(self, f"block{block + 1}", conv_block(in_channels, out_channels, convs, batch_norm, pool))
            in_channels = out_channels
        if fc_dim > 0:
            fc_features = scale_channels(fc_dim, width)
            self.fc6 = nn.Sequential(nn.AdaptiveAvgPool3d(POOL5_OUTPUT), nn.Flatten(1),
                                     fc_layer(in_channels * POOL5_OUTPUT[0] * POOL5_OUTPUT[1] * POOL5_OUTPUT[2],
                                              fc_features))
            self.fc7 = fc_layer(fc_features, fc_features)
            self.tap_names = ("pool1", "pool2", "pool3", "pool4", "pool5", "fc6", "pool")
            self.feature_dim = fc_features
        else:
            self.fc6 = self.fc7 = None
            self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
            self.tap_names = ("pool1", "pool2", "pool3", "pool4", "conv5", "pool")
            self.feature_dim = in_channels
        self.fc = self._classifier(num_classes)
        initialize_weights(self)

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        blocks = [(name, getattr(self, f"block{index}")) for index, name in enumerate(self.tap_names[:5], start=1)]
        if self.fc6 is not None:
            return blocks + [("fc6", self.fc6), ("pool", self.fc7)]
        return blocks + [("pool", self._pool)]

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(x).flatten(1)


@register_backbone("c3d")
def c3d(width: float = 1.0, num_classes: int = 0) -> C3D:
    """Original C3D (Tran et al. 2015): 8 convs, fc6/fc7 4096; features are fc7 (487 classes on Sports-1M)."""
    return C3D(C3D_CHANNELS, C3D_CONVS_PER_BLOCK, C3D_FC_DIM, batch_norm=False, width=width, num_classes=num_classes)


@register_backbone("c3d_bn")
def c3d_bn(width: float = 1.0, num_classes: int = 0) -> C3D:
    """C3D with BatchNorm after every conv, conv5b globally average-pooled, no pool5/fc6/fc7 (VCOP; Wang 2020)."""
    return C3D(C3D_CHANNELS, C3D_CONVS_PER_BLOCK, 0, batch_norm=True, width=width, num_classes=num_classes)


@register_backbone("c3d_light")
def c3d_light(width: float = 1.0, num_classes: int = 0) -> C3D:
    """Light C3D of Wang 2020 Table 2.1: convs 64-128-256-256-256, fc6/fc7 2048; features are fc7."""
    return C3D(LIGHT_C3D_CHANNELS, LIGHT_C3D_CONVS_PER_BLOCK, LIGHT_C3D_FC_DIM, batch_norm=False, width=width,
               num_classes=num_classes)
