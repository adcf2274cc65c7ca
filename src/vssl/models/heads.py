"""Projection and prediction heads (MLPs) that sit on top of a backbone's pooled features."""

from __future__ import annotations

from torch import nn


def mlp_head(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int, batch_norm: bool) -> nn.Sequential:
    """``num_layers`` linear layers with ReLU (and optional BatchNorm) between them; no activation at the end.

    Feichtenhofer et al. 2021 Table 16: 3 layers of hidden 2048 for MoCo (no BN) and SimCLR/SwAV (BN); 2 layers of 4096 for BYOL.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(num_layers - 1):
        layers.append(nn.Linear(dim, hidden_dim, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers.append(nn.ReLU(inplace=True))
        dim = hidden_dim
    layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)
