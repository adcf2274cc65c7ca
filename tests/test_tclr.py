"""TCLR (Dave et al. 2022): the local and global clips' exact frames, the global-local loss by hand, and one epoch
through `vssl pretrain`."""

import math

import numpy as np
import pytest
import torch

from vssl.core.errors import ConfigError
from vssl.methods.tclr import TCLR, LocalGlobalSampler, TCLRConfig, global_local_loss
from vssl.models.registry import build_backbone
from conftest import one_epoch_losses


def test_local_clips_tile_the_span_the_global_clip_covers():
    """Clips of 4 at stride 1, 3 windows, starting at s: locals s…s+3, s+4…s+7, s+8…s+11; global s, s+3, s+6, s+9."""
    sampler = LocalGlobalSampler(clip_len=4, stride=1, windows=3)
    clips = sampler(12, 16.0, np.random.default_rng(0))  # exactly the span: start 0
    assert clips == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [0, 3, 6, 9]]
    rng = np.random.default_rng(1)
    starts = {sampler(20, 16.0, rng)[0][0] for _ in range(200)}
    assert starts == set(range(0, 9))


def test_global_local_loss_by_hand():
    """Two segments matching their local clips exactly on orthogonal axes, τ = 1: each term is
    −log(e / (e + e⁰)) = log(1 + 1/e)."""
    axes = torch.eye(2)[None]  # [1 video, 2 windows, 2]
    assert float(global_local_loss(axes, axes, 1.0)) == pytest.approx(math.log(1 + 1 / math.e))
    swapped = axes.flip(1)  # each segment now matches the other window
    assert float(global_local_loss(swapped, axes, 1.0)) == pytest.approx(math.log(1 + math.e))


def test_the_global_tap_must_exist():
    with pytest.raises(ConfigError, match="global_tap='block9'"):
        TCLR(build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1)), TCLRConfig(global_tap="block9"), None)


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path,
                              "tclr_world32", "data.stride=1", "method.windows=3", "method.proj_hidden=32")
    assert losses and all(math.isfinite(loss) for loss in losses)
