"""RSPNet (Chen et al. 2021): exact frames at each speed, the loss by hand, the authors' settings, and one epoch
through `vssl pretrain`."""

import math

import pytest
import torch

from vssl.methods.registry import get_method
from vssl.methods.rspnet import RSPNet, RSPNetConfig, at_speeds, rspnet_loss
from conftest import one_epoch_losses


def test_each_video_plays_at_its_speed_and_the_other_clip_at_the_other():
    """Frames numbered 0 … 7 in the pixel values, T = 4: speed 1 shows 0 1 2 3, speed 2 shows 0 2 4 6."""
    clips = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(2, 3, 8, 2, 2).clone()
    fast = torch.tensor([False, True])
    own, other = at_speeds(clips, fast, speed=2)
    assert own.shape == (2, 3, 4, 2, 2)
    assert own[0, 0, :, 0, 0].tolist() == [0, 1, 2, 3] and own[1, 0, :, 0, 0].tolist() == [0, 2, 4, 6]
    assert other[0, 0, :, 0, 0].tolist() == [0, 2, 4, 6] and other[1, 0, :, 0, 0].tolist() == [0, 1, 2, 3]


def test_the_loss_by_hand():
    """τ = 1, one query. A-VID: a(q) = (1, 0), a(k) = (1, 0), a(k̄) = (0, 1), one queue key (−1, 0):
    log(1 + e^−2) + log(1 + e^−1) = 0.126928 + 0.313262. RSP: m(q)·m(k) = 1, m(q)·m(k̄) = 0, margin 2:
    max(0, 2 − 1) = 1. With weights A = 0.5, M = 2: 0.5 · 0.440190 + 2 · 1."""
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    queue = torch.tensor([[-1.0, 0.0]])
    config = RSPNetConfig(temperature=1.0, margin=2.0, avid_weight=0.5, rsp_weight=2.0)
    loss = rspnet_loss(e1, e1, e1, e1, e2, e2, queue, config)
    avid = math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))
    assert float(loss) == pytest.approx(0.5 * avid + 2.0 * 1.0)
    beyond_margin = rspnet_loss(e1, e1, e1, e1, e2, -e1, queue, RSPNetConfig(temperature=1.0, margin=1.5))
    assert float(beyond_margin) == pytest.approx(avid)  # 1 − (−1) = 2 > 1.5: no ranking loss


def test_the_defaults_are_the_released_recipe():
    config = RSPNetConfig()
    assert (config.temperature, config.queue_size, config.momentum, config.proj_dim) == (0.07, 16384, 0.999, 128)
    assert (config.fast_speed, config.margin, config.avid_weight, config.rsp_weight) == (2, 2.0, 1.0, 1.0)


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path, "rspnet_world32", "method.queue_size=8")
    assert losses and all(math.isfinite(loss) for loss in losses)
    assert get_method("rspnet")[0] is RSPNet
