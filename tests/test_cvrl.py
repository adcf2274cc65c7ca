"""CVRL (Qian et al. 2021): the decreasing gap distribution by hand, the InfoNCE of two clips by hand, and one epoch
through `vssl pretrain`."""

import math

import numpy as np
import pytest
import torch

from vssl.core.errors import ConfigError
from vssl.methods.cvrl import CVRL, CVRLConfig, DecreasingGapSampler
from vssl.methods.registry import get_method
from conftest import one_epoch_losses
from vssl.methods.rho_simclr import simclr_loss


def test_the_gap_probabilities_decrease_linearly_by_hand():
    """12 frames, clips of 4 at stride 1: gaps 0 … 8, weights 1 − t/9 = 9/9 … 1/9, summing to 45/9 = 5."""
    sampler = DecreasingGapSampler(clip_len=4, stride=1, power=1.0)
    expected = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1]) / 45
    np.testing.assert_allclose(sampler.gap_probabilities(12), expected)
    squared = DecreasingGapSampler(4, 1, power=2.0).gap_probabilities(12)
    np.testing.assert_allclose(squared, (1 - (np.arange(9) / 9) ** 2) / (1 - (np.arange(9) / 9) ** 2).sum())


def test_sampled_gaps_follow_the_distribution_and_clips_fit_the_video():
    sampler = DecreasingGapSampler(clip_len=4, stride=2, power=1.0)  # span 7 of 20 frames: gaps 0 … 13
    rng = np.random.default_rng(0)
    gaps = []
    for _ in range(20000):
        first, second = sampler(20, 16.0, rng)
        assert len(first) == len(second) == 4 and first[1] - first[0] == 2
        assert 0 <= first[0] <= second[0] and second[-1] <= 19
        gaps.append(second[0] - first[0])
    frequencies = np.bincount(gaps, minlength=14) / len(gaps)
    np.testing.assert_allclose(frequencies, sampler.gap_probabilities(20), atol=0.01)


def test_two_clip_info_nce_by_hand():
    """Video 0's clips at (1, 0), video 1's at (0, 1), τ = 1: each query has its sibling at cosine 1 and two
    negatives at cosine 0, so every term is −log(e / (e + 2)) = log(1 + 2/e)."""
    embeddings = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    assert float(simclr_loss(embeddings, temperature=1.0)) == pytest.approx(math.log(1 + 2 / math.e))


def test_the_defaults_are_the_papers():
    config = CVRLConfig()
    assert (config.temperature, config.proj_dim, config.proj_layers) == (0.1, 128, 3)  # Qian et al. 2021 §4.1


def test_one_epoch_through_vssl_pretrain_and_fps_jitter_refused(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path / "a", "cvrl_world32", "method.proj_hidden=32")
    assert losses and all(math.isfinite(loss) for loss in losses)
    assert get_method("cvrl")[0] is CVRL
    with pytest.raises(ConfigError, match="fps_jitter"):
        one_epoch_losses(micro_manifest, tmp_path / "b", "cvrl_world32", "data.fps_jitter=0.5")
