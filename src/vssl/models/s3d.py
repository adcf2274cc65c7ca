"""S3D-G (Xie et al. 2018): Inception-v1 video network with separable 3D convs and feature gating.

Xie et al. 2018, "Rethinking Spatiotemporal Feature Learning: Speed-Accuracy Trade-offs in Video
Classification" (arXiv:1712.04851). Layout of the reference TF-slim s3dg.py (defaults) as ported to PyTorch by
MIL-NCE (Miech et al. 2020) and used by seed 002's code (github.com/laura-wang/video-pace, models/s3d_g.py):
Conv_1a is a full 3x7^2 conv with stride 2; Conv_2c and every 3^3 branch conv become a (1,3,3) spatial conv +
BN + ReLU and a (3,1,1) temporal conv + BN + ReLU; Conv_2c and every Mixed-block branch are gated by
sigmoid(Linear(spatiotemporal mean)). PyTorch conventions as in that port: BN with scale, gating Linear with
bias (TF-slim has neither, and its temporal convs have a bias instead of BN). Seed 001 Table 5 counts S3D-G
as 9.1M. CoCLR's port instead makes Conv_1a separable 7^3 and gates only the Mixed blocks (9,098,000).
"""

from __future__ import annotations

import torch
from torch import nn

from vssl.models.i3d import InceptionV1Video
from vssl.models.registry import register_backbone

# Seed 001 Table 5 (and CoCLR): S3D-G pre-trained on 32-frame clips (32 x 2) at 224x224.
CLIP_32X224 = (32, 224)
# TF-slim s3dg.py first_temporal_kernel_size default (3x7x7 Conv_1a; 3 "gives better performance" than 7).
S3DG_FIRST_TEMPORAL_KERNEL = 3


def separable_conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    """(1,k,k) conv with the spatial stride, BN, ReLU, then (k,1,1) conv with the temporal stride, BN, ReLU."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=(1, kernel, kernel), stride=(1, stride, stride),
                  padding=(0, padding, padding), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv3d(out_channels, out_channels, kernel_size=(kernel, 1, 1), stride=(stride, 1, 1),
                  padding=(padding, 0, 0), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


class SelfGating(nn.Module):
    """x * sigmoid(W mean_{t,h,w}(x) + b): channel gates from the clip's global context (Xie et al. 2018 §4.3)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * weights[:, :, None, None, None]


@register_backbone("s3dg")
def s3dg(width: float = 1.0, num_classes: int = 0) -> InceptionV1Video:
    """S3D-G: separable 3D convs from Conv_2c on, self-gating after Conv_2c and on every Mixed-block branch."""
    return InceptionV1Video(separable_conv, SelfGating, width=width, num_classes=num_classes,
                            default_input=CLIP_32X224, first_temporal_kernel=S3DG_FIRST_TEMPORAL_KERNEL)
