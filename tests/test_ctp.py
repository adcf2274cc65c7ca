"""CtP (Wang, Jiao & Liu 2021): the regressed targets are the pasted patch's centres, interpolation by hand, and one
epoch through `vssl pretrain`."""

import math

import numpy as np
import pytest
import torch

from vssl.core.errors import ConfigError
from vssl.methods.ctp import CtP, CtPConfig, at_points, tracked_clip
from vssl.models.registry import build_backbone
from conftest import one_epoch_losses


def test_centres_at_evenly_spaced_instants_by_hand():
    """5 frames moving 0, 1, 2, 3, 4 in x: 3 instants are frames 0, 2, 4; 4 instants are 0, 4/3, 8/3, 4."""
    centres = torch.tensor([[float(t), 10.0] for t in range(5)])
    assert at_points(centres, 3)[:, 0].tolist() == [0.0, 2.0, 4.0]
    assert at_points(centres, 4)[:, 0].tolist() == pytest.approx([0.0, 4 / 3, 8 / 3, 4.0])


def test_the_targets_are_where_the_pasted_patch_is():
    """A static rectangle patch of a constant 5.0 source on a zero clip: the target is the centre of the pasted
    pixels, in fractions of the frame."""
    config = CtPConfig(motion="static", transforms=())
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(5):
        clip, source = torch.zeros(3, 4, 32, 32), torch.full((3, 4, 32, 32), 5.0)
        pasted, centres = tracked_clip(clip, source, config, rng)
        ys, xs = torch.nonzero(pasted[0, 0] == 5.0, as_tuple=True)
        if len(xs) == 0:
            continue
        assert float(centres[0, 0]) * 32 == pytest.approx((xs.min() + xs.max() + 1) / 2, abs=1.0)
        assert float(centres[0, 1]) * 32 == pytest.approx((ys.min() + ys.max() + 1) / 2, abs=1.0)
        assert torch.equal(clip, torch.zeros(3, 4, 32, 32))  # the input clip is left alone
        checked += 1
    assert checked >= 4


def test_settings_and_backbone_are_checked():
    with pytest.raises(ConfigError, match="method.motion"):
        CtPConfig(motion="orbit")
    with pytest.raises(ConfigError, match="layer4"):
        CtP(build_backbone("vit_s16", width=0.25, depth=1), CtPConfig(), None)


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path, "ctp_world32", "method.hidden=32")
    assert losses and all(math.isfinite(loss) for loss in losses)
