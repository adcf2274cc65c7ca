"""Feichtenhofer et al. 2021 Table 7 temporal augmentations: grayscale frame differences and frame-rate jitter."""

import numpy as np
import pytest
import torch

from vssl.core.errors import VsslError
from vssl.data.sampling import RhoClipSampler
from vssl.data.transforms import RandomTemporalDifference, build_train_transform, temporal_difference


def test_temporal_difference_by_hand():
    """Gray levels 0.1, 0.4, 0.4 (R = G = B, so luma = value) → differences 0.3, 0.0, and the last repeated."""
    video = torch.tensor([0.1, 0.4, 0.4]).view(1, 3, 1, 1).expand(3, 3, 2, 2).clone()
    out = temporal_difference(video)
    assert out.shape == video.shape
    assert torch.allclose(out[:, :, 0, 0], torch.tensor([[0.3, 0.0, 0.0]] * 3), atol=1e-6)


def test_temporal_difference_of_a_static_coloured_clip_is_zero():
    video = torch.rand(3, 1, 4, 4).expand(3, 5, 4, 4).clone()
    assert torch.count_nonzero(temporal_difference(video)) == 0


def test_random_temporal_difference_probability_is_respected():
    video = torch.rand(3, 4, 8, 8)
    generator = torch.Generator().manual_seed(0)
    transform = RandomTemporalDifference(0.2)
    changed = sum(not torch.equal(transform(video, generator), video) for _ in range(2000))
    assert 340 < changed < 460  # binomial(2000, 0.2): mean 400, sd 18
    assert torch.equal(RandomTemporalDifference(0.0)(video, generator), video)


def test_train_transform_applies_it_before_normalisation():
    """p = 1: a static clip becomes all zeros, which Kinetics normalisation maps to -mean/std per channel."""
    video = torch.rand(3, 1, 16, 16).expand(3, 4, 16, 16).clone()
    transform = build_train_transform(16, 16, strength=0.0, blur=False, grayscale_p=0.0, flip=False,
                                      temporal_difference_p=1.0)
    out = transform(video, torch.Generator().manual_seed(0))
    mean, std = torch.tensor([0.45, 0.45, 0.45]), torch.tensor([0.225, 0.225, 0.225])
    expected = (-mean / std).view(3, 1, 1, 1).expand_as(out)
    assert torch.allclose(out, expected, atol=1e-6)


def test_fps_jitter_strides_within_range_and_clips_keep_their_start():
    sampler = RhoClipSampler(clip_len=4, stride=4, rho=2, fps_jitter=0.5)
    strides = set()
    rng = np.random.default_rng(0)
    for _ in range(300):
        for clip in sampler(200, 25.0, rng):
            steps = set(np.diff(clip).tolist())
            assert len(steps) == 1  # one frame rate per clip
            strides |= steps
    assert strides == {2, 3, 4, 5, 6}  # round(4 × U(0.5, 1.5))


def test_no_fps_jitter_keeps_the_nominal_stride():
    rng = np.random.default_rng(0)
    for clip in RhoClipSampler(clip_len=4, stride=3, rho=3)(100, 25.0, rng):
        assert np.diff(clip).tolist() == [3, 3, 3]


@pytest.mark.parametrize("bad", [-0.1, 1.0, "0.5", True])
def test_bad_fps_jitter_is_rejected(bad):
    with pytest.raises(VsslError, match="fps_jitter"):
        RhoClipSampler(clip_len=4, stride=2, rho=2, fps_jitter=bad)


def test_pretraining_data_settings_reach_the_rho_methods():
    from vssl.app.pretrain import PretrainDataConfig
    from vssl.methods.rho_moco import RhoMoCo, RhoMoCoConfig

    data = PretrainDataConfig(crop_size=16, short_side=(16, 20), temporal_difference_p=0.2, fps_jitter=0.5)
    assert RhoMoCo.build_sampler(RhoMoCoConfig(rho=3), data).fps_jitter == 0.5
    steps = RhoMoCo.build_transform(RhoMoCoConfig(), data).transforms
    assert [type(t).__name__ for t in steps[-2:]] == ["RandomTemporalDifference", "Normalize"]
    assert steps[-2].p == 0.2
