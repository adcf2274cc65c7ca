"""Centred kernel alignment between layer representations (Kornblith et al. 2019): linear CKA, its unbiased-HSIC
form and minibatch CKA (Nguyen et al. 2021), the layer × layer maps of Kumar et al. 2023 (§4.5), and a heat-map."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.core.io import atomic_path


def _gram(x: torch.Tensor) -> torch.Tensor:
    return x @ x.T


def hsic(k: torch.Tensor, l: torch.Tensor, unbiased: bool = False) -> torch.Tensor:  # noqa: E741
    """HSIC of two n × n Gram matrices: biased tr(KHLH) / (n−1)² (Gretton et al. 2005), or the unbiased estimator
    of Song et al. 2012 (zero diagonals; needs n > 3)."""
    n = k.shape[0]
    if not unbiased:
        centring = torch.eye(n, dtype=k.dtype, device=k.device) - 1.0 / n
        return torch.trace(k @ centring @ l @ centring) / (n - 1) ** 2
    if n < 4:
        raise ConfigError(f"cka: the unbiased HSIC needs at least 4 examples, got {n}")
    k = k - torch.diag(torch.diag(k))
    l = l - torch.diag(torch.diag(l))  # noqa: E741
    ones = torch.ones(n, dtype=k.dtype, device=k.device)
    term = (torch.sum(k * l) + (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (ones @ k @ l @ ones))
    return term / (n * (n - 3))


def linear_cka(x: torch.Tensor, y: torch.Tensor, unbiased: bool = False) -> float:
    """Linear CKA of features x [n, p] and y [n, q] of the same n examples: HSIC(K, L) / √(HSIC(K, K)·HSIC(L, L))
    with K = x xᵀ, L = y yᵀ. 1 for representations equal up to an orthogonal transform and isotropic scaling."""
    if x.shape[0] != y.shape[0]:
        raise ConfigError(f"cka: the two feature sets must hold the same examples, got {x.shape[0]} and {y.shape[0]}")
    x, y = x.double().flatten(1), y.double().flatten(1)
    k, l = _gram(x), _gram(y)  # noqa: E741
    denominator = torch.sqrt(hsic(k, k, unbiased) * hsic(l, l, unbiased))
    return float(hsic(k, l, unbiased) / denominator)


def minibatch_cka(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Minibatch CKA (Nguyen et al. 2021, Eq. 3): unbiased HSIC summed over consecutive minibatches of the n examples,
    then normalised; memory O(batch²) instead of O(n²). Batches shorter than 4 examples are dropped."""
    x, y = x.double().flatten(1), y.double().flatten(1)
    xy = xx = yy = 0.0
    for start in range(0, x.shape[0] - 3, batch_size):
        a, b = x[start:start + batch_size], y[start:start + batch_size]
        if a.shape[0] < 4:
            break
        k, l = _gram(a), _gram(b)  # noqa: E741
        xy, xx, yy = xy + hsic(k, l, True), xx + hsic(k, k, True), yy + hsic(l, l, True)
    return float(xy / torch.sqrt(xx * yy))


def cka_map(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], unbiased: bool = False,
            batch_size: int = 0) -> np.ndarray:
    """CKA of every layer of ``a`` (rows) against every layer of ``b`` (columns), features [n, d] per layer;
    ``batch_size`` > 0 uses minibatch CKA."""
    matrix = np.empty((len(a), len(b)))
    for i, x in enumerate(a.values()):
        for j, y in enumerate(b.values()):
            matrix[i, j] = minibatch_cka(x, y, batch_size) if batch_size else linear_cka(x, y, unbiased)
    return matrix


def _colour(values: np.ndarray) -> np.ndarray:
    """0..1 → RGB uint8 on a dark-blue → yellow ramp (perceptually ordered, readable in grey)."""
    stops = np.array([[0.05, 0.03, 0.3], [0.2, 0.4, 0.55], [0.3, 0.7, 0.45], [0.99, 0.9, 0.15]])
    position = np.clip(values, 0, 1) * (len(stops) - 1)
    low = np.minimum(position.astype(int), len(stops) - 2)
    frac = (position - low)[..., None]
    return np.round((stops[low] * (1 - frac) + stops[low + 1] * frac) * 255).astype(np.uint8)


def write_heatmap_png(matrix: np.ndarray, path: str | Path, cell: int = 24) -> Path:
    """The matrix (values in 0..1, row 0 at the top) as a PNG of cell × cell squares, written atomically."""
    image = np.kron(_colour(matrix), np.ones((cell, cell, 1), dtype=np.uint8))
    height, width, _ = image.shape
    raw = b"".join(b"\0" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        partial.write_bytes(png)
    return path


@dataclass
class CkaConfig:
    other: str = ""  # the second encoder: a checkpoint or "random"; "" = the evaluated encoder against itself
    other_name: str = ""  # its name in the results; default as encoder.name
    unbiased: bool = False  # unbiased HSIC (Song et al. 2012) instead of the biased estimator
    batch_size: int = ranged(0, ge=0)  # > 0: minibatch CKA over batches of this many videos (Nguyen et al. 2021)
