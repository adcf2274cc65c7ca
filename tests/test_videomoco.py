"""VideoMoCo (Pan et al. 2021): the decayed InfoNCE and the key ages by hand, the adversarial frame dropper, and one
epoch through `vssl pretrain`."""

import math

import pytest
import torch

from vssl.methods.videomoco import FrameDropper, decayed_info_nce, key_ages
from conftest import one_epoch_losses


def test_key_ages_by_hand():
    """A queue of 5 with the pointer at 2 after 4 keys: slot 1 is newest (0), slot 0 next (1), then 4, 3 (2, 3);
    slot 2 was never written and counts as the oldest (5)."""
    assert key_ages(5, pointer=2, filled=4).tolist() == [1.0, 0.0, 5.0, 3.0, 2.0]


def test_decayed_info_nce_by_hand():
    """τ = 1, q = k = (1, 0), two queue keys at cosine 0 of ages 0 and 2, decay 0.5:
    −log(e / (e + 1 + 0.25))."""
    q = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0], [0.0, -1.0]])
    loss = decayed_info_nce(q, q, queue, torch.tensor([0.0, 2.0]), temperature=1.0, decay=0.5)
    assert float(loss) == pytest.approx(-math.log(math.e / (math.e + 1 + 0.25)))
    plain = decayed_info_nce(q, q, queue, torch.tensor([0.0, 2.0]), temperature=1.0, decay=1.0)
    assert float(plain) == pytest.approx(-math.log(math.e / (math.e + 2)))  # no decay: MoCo's InfoNCE


def test_the_dropper_zeroes_a_quarter_of_the_frames_and_learns_against_the_encoder():
    torch.manual_seed(0)
    dropper = FrameDropper(hidden=8, drop=0.25)
    clips = torch.rand(3, 3, 8, 6, 6) + 0.1
    dropped = dropper(clips)
    zero_frames = (dropped.abs().sum(dim=(1, 3, 4)) == 0).sum(dim=1)
    assert zero_frames.tolist() == [2, 2, 2]
    kept = dropped.abs().sum(dim=(1, 3, 4)) != 0
    assert torch.equal(dropped.transpose(1, 2)[kept], clips.transpose(1, 2)[kept])  # kept frames are untouched
    dropped.sum().backward()  # the encoder side would raise this: the generator's gradient is reversed
    straight = FrameDropper(hidden=8, drop=0.25)
    straight.load_state_dict(dropper.state_dict())
    (clips * straight.keep_mask(clips)[:, None, :, None, None]).sum().backward()
    for reversed_p, plain_p in zip(dropper.parameters(), straight.parameters()):
        torch.testing.assert_close(reversed_p.grad, -plain_p.grad)


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path,
                              "videomoco_world32", "method.queue_size=8", "method.proj_hidden=32")
    assert losses and all(math.isfinite(loss) for loss in losses)
