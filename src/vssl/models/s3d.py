"""S3D-G (Xie et al. 2018): Inception-v1 video network with separable 3D convs and feature gating.

Xie et al. 2018, "Rethinking Spatiotemporal Feature Learning: Speed-Accuracy Trade-offs in Video
Classification" (arXiv:1712.04851), as ported to PyTorch by CoCLR (Han et al. 2020, backbone/s3dg.py, from
qijiezhao's S3DG_Pytorch): every k^3 conv, the 7^3 stride-2 Conv_1a included, becomes a (1,k,k) spatial conv +
BN + ReLU and a (k,1,1) temporal conv + BN + ReLU, and every branch of every Mixed block is gated by
sigmoid(Linear(spatiotemporal mean)). This variant reproduces both of Feichtenhofer et al. 2021 Table 5's S3D-G figures: 9.1M
parameters (9,098,000 without classifier) and 36.0 GMACs for a 32x224^2 clip.

Other ports differ slightly: TF-slim's s3dg.py (and MIL-NCE's port, which Wang 2020's code uses) has a full
3x7^2 Conv_1a and also gates Conv_2c (9,125,072 parameters in PyTorch convention, 32.1 GMACs at 32x224^2).
"""

from __future__ import annotations

import torch
from torch import nn

from vssl.models.i3d import InceptionV1Video
from vssl.models.registry import register_backbone

# Feichtenhofer et al. 2021 Table 5 (and CoCLR): S3D-G pre-trained on 32-frame clips (32 x 2) at 224x224.
CLIP_32X224 = (32, 224)


def separable_conv(
    in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int = 0
) -> nn.Sequential:
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
    """x * sigmoid(W mean_{t,h,w}(x) + b): channel gates from the clip's global context (Xie et al. 2018)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * weights[:, :, None, None, None]


@register_backbone("s3dg")
def s3dg(width: float = 1.0, num_classes: int = 0) -> InceptionV1Video:
    """S3D-G: every 3D conv separable, self-gating on every Mixed-block branch."""
    return InceptionV1Video(separable_conv, SelfGating, width=width, num_classes=num_classes,
                            default_input=CLIP_32X224)
