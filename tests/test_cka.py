"""CKA (Kornblith et al. 2019; minibatch form of Nguyen et al. 2021) against hand-computed values and its
invariances, the layer map and its heat-map file, and `vssl eval cka` in a real process."""

import sqlite3
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch

from vssl.core.errors import ConfigError
from vssl.evaluation.cka import cka_map, hsic, linear_cka, minibatch_cka, write_heatmap_png
from vssl.models.registry import build_backbone


def test_one_dimensional_linear_cka_is_the_squared_correlation_by_hand():
    """x = 1, 2, 3, 4 and y = 1, 3, 2, 4: centred, Σxy = 4 and Σx² = Σy² = 5, so r = 0.8 and CKA = 0.64."""
    x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    y = torch.tensor([[1.0], [3.0], [2.0], [4.0]])
    assert linear_cka(x, y) == pytest.approx(0.64)


def test_biased_hsic_by_hand():
    """K = L = x xᵀ for x = (1, −1, 0): centred x is itself, tr(KHLH) = (xᵀx)² = 4, over (n − 1)² = 4: 1."""
    x = torch.tensor([[1.0], [-1.0], [0.0]], dtype=torch.float64)
    k = x @ x.T
    assert float(hsic(k, k)) == pytest.approx(1.0)


def test_cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling_but_not_to_anisotropic_scaling():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=gen, dtype=torch.float64)
    y = x @ torch.randn(8, 6, generator=gen, dtype=torch.float64) + 0.5 * torch.randn(50, 6, generator=gen,
                                                                                       dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=gen, dtype=torch.float64))
    base = linear_cka(x, y)
    for unbiased in (False, True):
        reference = linear_cka(x, y, unbiased)
        assert linear_cka(x @ q, y, unbiased) == pytest.approx(reference, abs=1e-10)
        assert linear_cka(3.7 * x, y, unbiased) == pytest.approx(reference, abs=1e-10)
        assert linear_cka(x, x @ q * 0.2, unbiased) == pytest.approx(1.0, abs=1e-10)
    assert linear_cka(x * torch.linspace(0.1, 10, 8, dtype=torch.float64), y) != pytest.approx(base, abs=1e-3)


def test_unbiased_hsic_removes_the_bias_of_independent_wide_features():
    """64 examples of 512 independent random features: the biased CKA is far from 0, the unbiased one is not."""
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 512, generator=gen), torch.randn(64, 512, generator=gen)
    assert linear_cka(x, y) > 0.5
    assert abs(linear_cka(x, y, unbiased=True)) < 0.05


def test_minibatch_cka_with_one_batch_is_the_unbiased_cka_and_converges_with_many():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(256, 16, generator=gen, dtype=torch.float64)
    y = torch.tanh(x @ torch.randn(16, 16, generator=gen, dtype=torch.float64))
    assert minibatch_cka(x, y, 256) == pytest.approx(linear_cka(x, y, unbiased=True), abs=1e-12)
    assert minibatch_cka(x, y, 64) == pytest.approx(linear_cka(x, y, unbiased=True), abs=0.05)


def test_the_map_is_layers_by_layers_and_symmetric_for_one_encoder():
    gen = torch.Generator().manual_seed(3)
    layers = {name: torch.randn(20, d, generator=gen) for name, d in (("stem", 4), ("layer1", 8), ("pool", 3))}
    matrix = cka_map(layers, layers)
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)
    with pytest.raises(ConfigError, match="same examples"):
        linear_cka(torch.zeros(4, 2), torch.zeros(5, 2))


def test_the_heat_map_is_a_valid_png_of_the_matrix_shape(tmp_path):
    path = write_heatmap_png(np.array([[1.0, 0.2], [0.2, 1.0], [0.5, 0.0]]), tmp_path / "cka.png", cell=4)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (8, 12)  # 2 columns × 3 rows of 4-px cells
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8:start - 4], "big")
    rows = zlib.decompress(data[start:start + length])
    assert len(rows) == height * (1 + 3 * width)
    pixels = np.frombuffer(rows, dtype=np.uint8).reshape(height, 1 + 3 * width)[:, 1:].reshape(height, width, 3)
    assert pixels[0, 0].sum() > pixels[0, 4].sum()  # 1.0 is brighter than 0.2


def vssl_eval_cka(manifest, store, *extra):
    args = [f"data.manifest={manifest}", "data.labels=[motion]", "data.clip_len=4", "data.stride=2",
            "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0", "encoder.width=0.125",
            "encoder.depth=[1,1,1,1]", f"store={store}", "progress=false", *extra]
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "cka", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(store) as db:
        return dict(db.execute("select label || ':' || metric, value from results where protocol = 'cka'"))


def test_vssl_eval_cka_maps_one_encoder_and_two(micro_manifest, tmp_path):
    """Self-CKA has a diagonal of 1; against another file's weights (a bare state dict, loaded into the same
    backbone) it does not; each run writes its own heat-map and CSV."""
    taps = ("stem", "layer1", "layer2", "layer3", "layer4", "pool")
    store = tmp_path / "results.sqlite"
    self_map = vssl_eval_cka(micro_manifest, store)
    assert len(self_map) == len(taps) ** 2
    for tap in taps:
        assert self_map[f"random:{tap}|{tap}"] == pytest.approx(1.0, abs=1e-9)
    torch.manual_seed(5)
    other = tmp_path / "other.pth"
    torch.save(build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1)).state_dict(), other)
    pair = vssl_eval_cka(micro_manifest, store, f"cka.other={other}", "cka.other_name=other")
    assert pair["other:stem|stem"] < 0.999
    assert 0.0 <= min(pair.values()) and max(pair.values()) <= 1.0 + 1e-9
    written = sorted(p.suffix for p in (tmp_path / "cka").iterdir())
    assert written == [".csv", ".csv", ".png", ".png"]  # two runs never overwrite each other
