"""BSN (Lin et al. 2018) on frozen features: layer shapes, TEM labels, the weighted logistic loss, PGM candidates,
BSP features, PEM sampling, scores and Gaussian Soft-NMS, by hand."""

import math

import numpy as np
import pytest
import torch

from vssl.evaluation.bsn import (PEM, TEM, boundary_candidates, bsp_features, candidate_proposals, max_tiou,
                                 pem_training_sample, proposal_scores, soft_nms, tem_targets,
                                 weighted_logistic_loss)


def test_the_modules_have_the_papers_layers():
    tem = TEM(feature_dim=64)
    convs = [m for m in tem.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [(64, 512, 3), (512, 512, 3),
                                                                                  (512, 3, 1)]
    out = tem(torch.randn(2, 64, 100)).detach()
    assert out.shape == (2, 3, 100) and 0 <= float(out.min()) and float(out.max()) <= 1
    pem = PEM()
    linears = [m for m in pem.modules() if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(32, 512), (512, 1)]
    assert pem(torch.rand(5, 32)).shape == (5,)


def test_tem_labels_by_hand():
    """Scale 10, one action [0.24, 0.66]: more than half of cells 2–6 lies inside it (cells 2 and 6 by 0.6). Its
    boundary regions are max(0.1, 0.1 · 0.42) = 0.1 wide: [0.19, 0.29] covers 0.9 of cell 2 and 0.1 of cell 1,
    [0.61, 0.71] 0.9 of cell 6 and 0.1 of cell 7."""
    labels = tem_targets(np.array([[0.24, 0.66]]), scale=10)
    assert labels[0].tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]
    assert labels[1].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert labels[2].tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    # shorter than a cell: 0.6 of cell 4 is action, and the one-cell regions [0.37, 0.47], [0.43, 0.53] cover 0.7
    short = tem_targets(np.array([[0.42, 0.48]]), scale=10)
    assert (short == np.eye(10)[4]).all()


def test_weighted_logistic_loss_by_hand():
    """4 positions, 1 positive: α⁺ = 4, α⁻ = 4/3. p = 0.5 everywhere: −(1/4)(4·log 0.5 + 3·(4/3)·log 0.5) = 2 log 2."""
    p = torch.full((4,), 0.5)
    b = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert float(weighted_logistic_loss(p, b)) == pytest.approx(2 * math.log(2))


def test_pgm_candidates_and_pairs_by_hand():
    """Peaks at 1 and 4; 0.8 > half the maximum too. Starts {1, 4}, ends {2}: only (1, 2) ends after it starts,
    i.e. [1/6, 3/6]."""
    start = np.array([0.1, 0.5, 0.2, 0.1, 0.8, 0.3])
    assert boundary_candidates(start).tolist() == [1, 4]
    end = np.array([0.0, 0.1, 0.9, 0.1, 0.1, 0.2])
    assert boundary_candidates(end).tolist() == [2]
    np.testing.assert_allclose(candidate_proposals(start, end), [[1 / 6, 3 / 6]])


def test_bsp_features_by_hand():
    """A linear actionness curve a(x) = x (sampled at cell centres): the 16 inside points of [0.2, 0.6] run evenly
    from 0.2 to 0.6, the start region [0.16, 0.24] and end region [0.56, 0.64] likewise."""
    scale = 100
    actionness = (np.arange(scale) + 0.5) / scale
    feature = bsp_features(actionness, np.array([[0.2, 0.6]]))[0]
    np.testing.assert_allclose(feature[:16], np.linspace(0.2, 0.6, 16), atol=1e-6)
    np.testing.assert_allclose(feature[16:24], np.linspace(0.16, 0.24, 8), atol=1e-6)
    np.testing.assert_allclose(feature[24:], np.linspace(0.56, 0.64, 8), atol=1e-6)


def test_pem_targets_and_sampling_ratio():
    targets = max_tiou(np.array([[0.0, 0.5], [0.1, 0.5], [0.6, 0.9]]), np.array([[0.0, 0.5]]))
    np.testing.assert_allclose(targets, [1.0, 0.8, 0.0])
    ious = np.array([0.9, 0.8] + [0.5] * 10 + [0.1] * 10)
    chosen = pem_training_sample(ious, np.random.default_rng(0))
    kinds = [int(ious[i] > 0.7) * 2 + int(0.3 <= ious[i] <= 0.7) for i in chosen]
    assert (kinds.count(2), kinds.count(1), kinds.count(0)) == (2, 2, 4)  # 1 : 1 : 2


def test_scores_and_gaussian_soft_nms_by_hand():
    """score = p_start · p_end · p_conf. Soft-NMS, ε = 0.75: [0, 10] (0.9) first; [0, 5] (tIoU 0.5) decays to
    0.8·e^(−0.25/0.75), [20, 30] keeps 0.7 and comes second."""
    start, end = np.linspace(0.1, 1.0, 10), np.linspace(1.0, 0.1, 10)
    proposals = np.array([[0.1, 0.3]])
    assert proposal_scores(start, end, proposals, np.array([0.5]))[0] == pytest.approx(start[1] * end[2] * 0.5)
    kept, scores = soft_nms(np.array([[0.0, 10.0], [0.0, 5.0], [20.0, 30.0]]), np.array([0.9, 0.8, 0.7]))
    assert kept.tolist() == [[0.0, 10.0], [20.0, 30.0], [0.0, 5.0]]
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.8 * math.exp(-0.25 / 0.75)])
    assert len(soft_nms(np.random.rand(50, 2).cumsum(1), np.random.rand(50), keep=10)[0]) == 10
