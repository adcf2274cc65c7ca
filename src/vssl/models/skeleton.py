"""Skeleton encoders for the three representations of Thoker 2023 Ch. 3: graph (ST-GCN, Yan et al. 2018), sequence
(Bi-GRU) and pseudo-image (an HCN-style CNN, Li et al. 2018).

Every encoder reads the same tensor X [B, 3, T, J, M]: joint coordinates (x, y, z), frames, joints, bodies (the N C T V
M layout of ST-GCN; [B, 3, T, J] is one body) and turns it into its own representation. The joint graph and the body
count are fixed per layout: ``ntu`` (25 Kinect joints, two bodies, Thoker 2023 §3.4.2) or ``sprite`` (the 5 keypoints
of the synthetic world's sprite, one body: :mod:`vssl.data.synthetic_skeleton`); each encoder is registered once per
layout (``stgcn``, ``bigru``, ``hcn``; ``*_sprite``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vssl.core.errors import VsslError
from vssl.models.registry import VideoBackbone, check_width, register_backbone
from vssl.models.resnet3d import scale_channels

# NTU RGB+D joints, 1-based pairs as in ST-GCN's graph (Yan et al. 2018 [code]); the centre is the spine joint 21.
NTU_EDGES = ((1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10), (12, 11),
             (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (23, 8),
             (24, 25), (25, 12))
# The sprite: its centre (1) joined to its 4 corners (2-5), the corners joined round the square.
SPRITE_EDGES = ((1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (3, 4), (4, 5), (5, 2))

STGCN_CHANNELS = (64, 128, 256)  # Yan et al. 2018 §4.2: 10 layers of 64, 64, 64, 64, 128, 128, 128, 256, 256, 256 ...
STGCN_BLOCKS = (4, 3, 3)  # ... the first layer of the 2nd and 3rd stages with temporal stride 2
STGCN_TEMPORAL_KERNEL = 9  # Yan et al. 2018 §3.6: temporal kernel size Γ = 9
GRU_HIDDEN = 1024  # Thoker 2023 §3.4.2: a 3-layer Bi-GRU with H = 1024 units per layer (features 2H = 2048, App. A.1)
GRU_LAYERS = 3
HCN_CHANNELS = (64, 32, 32, 64, 128, 256)  # Li et al. 2018 Fig. 3: conv1-conv6 of one stream
DEFAULT_FRAMES = 64  # Thoker 2023 §3.4.2: augmented views of 64 frames


@dataclass(frozen=True)
class SkeletonLayout:
    """A skeleton's joints, bodies, bones (1-based joint pairs) and centre joint (0-based)."""

    name: str
    joints: int
    bodies: int
    edges: tuple[tuple[int, int], ...]
    centre: int


LAYOUTS = {"ntu": SkeletonLayout("ntu", 25, 2, NTU_EDGES, 20), "sprite": SkeletonLayout("sprite", 5, 1, SPRITE_EDGES, 0)}


def hop_distances(joints: int, edges: Sequence[tuple[int, int]]) -> np.ndarray:
    """Shortest path lengths [J, J] over the undirected bones (1-based pairs); inf between unconnected joints."""
    distance = np.full((joints, joints), np.inf)
    np.fill_diagonal(distance, 0)
    for a, b in edges:
        distance[a - 1, b - 1] = distance[b - 1, a - 1] = 1
    for k in range(joints):  # Floyd-Warshall
        distance = np.minimum(distance, distance[:, k:k + 1] + distance[k:k + 1, :])
    return distance


def spatial_partitions(layout: SkeletonLayout) -> torch.Tensor:
    """The spatial-configuration partitions [3, J, J] of Yan et al. 2018 §3.4 (Eq. 6 and Fig. 3d), normalised as
    A Λ⁻¹ with Λ the column degrees of the adjacency with self-loops (Eq. 9, ST-GCN [code]): A[k, v, w] carries joint v
    into joint w. Subsets: the root (self-loops), the neighbours at most as far from the centre joint as the
    output joint (centripetal, with equally far ones), and the farther ones (centrifugal). (Yan et al. measure the
    distance to the body's gravity centre; the code, as here, to a centre joint.)"""
    distance = hop_distances(layout.joints, layout.edges)
    adjacency = (distance <= 1).astype(np.float64)
    normalised = adjacency / adjacency.sum(axis=0, keepdims=True)
    to_centre = distance[:, layout.centre]
    neighbour = distance == 1
    farther = to_centre[:, None] > to_centre[None, :]  # [v, w]: v farther from the centre than w
    root = np.diag(np.diag(normalised))
    centripetal = np.where(neighbour & (farther | (to_centre[:, None] == to_centre[None, :])), normalised, 0.0)
    centrifugal = np.where(neighbour & (to_centre[:, None] < to_centre[None, :]), normalised, 0.0)
    return torch.tensor(np.stack([root, centripetal, centrifugal]), dtype=torch.float32)


class SkeletonEncoder(VideoBackbone):
    """A skeleton encoder: [B, 3, T, J, M] (or [B, 3, T, J]) → [B, feature_dim], with named taps."""

    layout: SkeletonLayout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x, ("pool",))["pool"]

    def with_bodies(self, x: torch.Tensor) -> torch.Tensor:
        """X as [B, 3, T, J, M], checked against the layout."""
        x = x.unsqueeze(-1) if x.dim() == 4 else x
        if x.dim() != 5 or x.shape[1] != 3 or x.shape[3] != self.layout.joints or x.shape[4] != self.layout.bodies:
            raise VsslError(f"{type(self).__name__} ({self.layout.name} layout) expects [B, 3, T, "
                            f"{self.layout.joints}, {self.layout.bodies}] skeletons, got {list(x.shape)}")
        return x

    def example_input(self, frames: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """An empty [1, 3, frames, J, M] input (FLOP counting)."""
        return torch.empty(1, 3, frames, self.layout.joints, self.layout.bodies, device=device)


class GraphConvolution(nn.Module):
    """Spatial graph convolution (Yan et al. 2018 Eq. 10): f_out = Σ_k (A_k ⊙ M_k)ᵀ-weighted sums of W_k f_in, one 1×1
    convolution per partition k, with learnable edge importance M (§3.6, initialised to ones)."""

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor):
        super().__init__()
        self.register_buffer("partitions", partitions.clone())
        self.edge_importance = nn.Parameter(torch.ones_like(partitions))
        self.conv = nn.Conv2d(in_channels, out_channels * partitions.shape[0], kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, T, J] → [N, C', T, J]
        n, _, t, j = x.shape
        k = self.partitions.shape[0]
        y = self.conv(x).view(n, k, -1, t, j)
        return torch.einsum("nkctv,kvw->nctw", y, self.partitions * self.edge_importance)


class STGCNBlock(nn.Module):
    """One ST-GCN layer (Yan et al. 2018 §3.6, [code]): graph conv, BN, ReLU, 9×1 temporal conv (stride), BN, plus a
    residual (none in the first layer), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor, stride: int = 1,
                 residual: bool = True):
        super().__init__()
        self.gcn = GraphConvolution(in_channels, out_channels, partitions)
        pad = (STGCN_TEMPORAL_KERNEL - 1) // 2
        self.tcn = nn.Sequential(nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
                                 nn.Conv2d(out_channels, out_channels, (STGCN_TEMPORAL_KERNEL, 1), (stride, 1),
                                           (pad, 0)),
                                 nn.BatchNorm2d(out_channels))
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.tcn(self.gcn(x))
        return torch.relu(out if self.residual is None else out + self.residual(x))


class STGCN(SkeletonEncoder):
    """ST-GCN (Yan et al. 2018): input BatchNorm over (bodies, joints, coordinates), three stages of ST-GCN layers,
    average pooling over time and joints, then the mean over bodies. Taps: stage1-3 ([B·M, C, T', J]), pool."""

    def __init__(self, layout: SkeletonLayout, width: float = 1.0, depth: Sequence[int] = STGCN_BLOCKS):
        super().__init__()
        check_width(width)
        depth = tuple(depth)
        if len(depth) != 3 or any(not isinstance(d, int) or d < 1 for d in depth):
            raise VsslError(f"stgcn option depth={depth!r} must be 3 block counts >= 1 (default {STGCN_BLOCKS})")
        self.layout = layout
        self.default_input = (DEFAULT_FRAMES, layout.joints)
        self.data_bn = nn.BatchNorm1d(3 * layout.joints * layout.bodies)
        partitions = spatial_partitions(layout)
        in_channels = 3
        for index, (channels, blocks) in enumerate(zip(STGCN_CHANNELS, depth), start=1):
            out_channels = scale_channels(channels, width)
            layers = [STGCNBlock(in_channels if b == 0 else out_channels, out_channels, partitions,
                                 stride=2 if b == 0 and index > 1 else 1, residual=not (index == 1 and b == 0))
                      for b in range(blocks)]
            setattr(self, f"stage{index}", nn.Sequential(*layers))
            in_channels = out_channels
        self.feature_dim = in_channels
        self.tap_names = ("stage1", "stage2", "stage3", "pool")

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, J, M] → BatchNorm over (M, J, C) per frame → [B·M, 3, T, J]."""
        x = self.with_bodies(x)
        b, c, t, j, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(b, m * j * c, t))
        return x.view(b, m, j, c, t).permute(0, 1, 3, 4, 2).reshape(b * m, c, t, j)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)).view(-1, self.layout.bodies, x.shape[1]).mean(dim=1)

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        return [("stage1", lambda x: self.stage1(self._normalise(x))), ("stage2", self.stage2),
                ("stage3", self.stage3), ("pool", self._pool)]


class BiGRU(SkeletonEncoder):
    """The sequence encoder of Thoker 2023 §3.4.2 (after Su et al. 2020): each frame's joints of every body flattened
    into one vector (joints × coordinates × bodies, [code] order), read by a multi-layer bidirectional GRU. Features:
    the top layer's final states of both directions, [B, 2H]. Taps: gru (outputs [B, T, 2H]), pool. Weight matrices
    Xavier-uniform initialised ([code])."""

    def __init__(self, layout: SkeletonLayout, width: float = 1.0, depth: Sequence[int] = (GRU_LAYERS,)):
        super().__init__()
        check_width(width)
        depth = tuple(depth)
        if len(depth) != 1 or not isinstance(depth[0], int) or depth[0] < 1:
            raise VsslError(f"bigru option depth={depth!r} must be one layer count >= 1 (default ({GRU_LAYERS},))")
        self.layout = layout
        self.default_input = (DEFAULT_FRAMES, layout.joints)
        self.hidden = scale_channels(GRU_HIDDEN, width)
        self.gru = nn.GRU(3 * layout.joints * layout.bodies, self.hidden, num_layers=depth[0], batch_first=True,
                          bidirectional=True)
        for parameter in self.gru.parameters():
            if parameter.dim() == 2:
                nn.init.xavier_uniform_(parameter)
        self.feature_dim = 2 * self.hidden
        self.tap_names = ("gru", "pool")

    def _sequence(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, J, M] → per-frame vectors [B, T, J·3·M] → GRU outputs [B, T, 2H]."""
        x = self.with_bodies(x)
        b, _, t, _, _ = x.shape
        return self.gru(x.permute(0, 2, 3, 1, 4).reshape(b, t, -1))[0]

    def _pool(self, outputs: torch.Tensor) -> torch.Tensor:
        """The forward direction's last output and the backward direction's first: both final states."""
        return torch.cat([outputs[:, -1, :self.hidden], outputs[:, 0, self.hidden:]], dim=1)

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        return [("gru", self._sequence), ("pool", self._pool)]


class PseudoImageCNN(SkeletonEncoder):
    """The pseudo-image encoder (X^IMG, Thoker 2023 §3.3.3: a T × J image with the coordinates as channels), HCN-style
    (Li et al. 2018, one stream, without its motion stream): a point-level 1×1 conv and a temporal 3×1 conv per joint,
    then the joints moved into the channels (co-occurrence) for 3×3 convs with pooling; the maximum over bodies and
    a global average. Taps: point (after the transpose, [B·M, C, T, J']), conv (before pooling), pool."""

    def __init__(self, layout: SkeletonLayout, width: float = 1.0):
        super().__init__()
        check_width(width)
        self.layout = layout
        self.default_input = (DEFAULT_FRAMES, layout.joints)
        c1, c2, c3, c4, c5, c6 = (scale_channels(c, width) for c in HCN_CHANNELS)
        self.point = nn.Sequential(nn.Conv2d(3, c1, 1), nn.ReLU(inplace=True), nn.Conv2d(c1, c2, (3, 1), padding=(1, 0)))
        self.cooccurrence = nn.Sequential(
            nn.Conv2d(layout.joints, c3, 3, padding=1), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(c3, c4, 3, padding=1), nn.Dropout2d(0.5), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(inplace=True), nn.Dropout2d(0.5), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(c5, c6, 3, padding=1), nn.ReLU(inplace=True))
        self.feature_dim = c6
        self.tap_names = ("point", "conv", "pool")

    def _point(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, J, M] → per body [B·M, C, T, J] → joints as channels [B·M, J, T, C]."""
        x = self.with_bodies(x)
        b, c, t, j, m = x.shape
        return self.point(x.permute(0, 4, 1, 2, 3).reshape(b * m, c, t, j)).permute(0, 3, 2, 1)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(-1, self.layout.bodies, *x.shape[1:]).amax(dim=1).mean(dim=(2, 3))

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        return [("point", self._point), ("conv", self.cooccurrence), ("pool", self._pool)]


def _register(layout: str, suffix: str) -> None:
    spec = LAYOUTS[layout]

    @register_backbone(f"stgcn{suffix}")
    def stgcn(width: float = 1.0, depth: Sequence[int] = STGCN_BLOCKS) -> STGCN:
        return STGCN(spec, width, depth)

    @register_backbone(f"bigru{suffix}")
    def bigru(width: float = 1.0, depth: Sequence[int] = (GRU_LAYERS,)) -> BiGRU:
        return BiGRU(spec, width, depth)

    @register_backbone(f"hcn{suffix}")
    def hcn(width: float = 1.0) -> PseudoImageCNN:
        return PseudoImageCNN(spec, width)

    stgcn.__doc__ = f"ST-GCN (Yan et al. 2018), {layout} skeletons: 10 layers 64-256, features 256."
    bigru.__doc__ = f"Bi-GRU (Thoker 2023 §3.4.2), {layout} skeletons: 3 layers of 1024 units, features 2048."
    hcn.__doc__ = f"HCN-style pseudo-image CNN (Li et al. 2018), {layout} skeletons: features 256."


_register("ntu", "")
_register("sprite", "_sprite")
