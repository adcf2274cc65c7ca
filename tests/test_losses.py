"""Loss values against hand computations; the momentum schedule; ρMoCo's sequential aggregation."""

import math

import pytest
import torch

from vssl.methods.losses import cosine_momentum, info_nce

Q = torch.tensor([[1.0, 0.0]])
NEGATIVES = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # cosine 0 and -1 with Q


def test_info_nce_single_positive_by_hand():
    positives = torch.tensor([[[0.6, 0.8]]])  # cosine 0.6
    expected = -math.log(math.exp(0.6) / (math.exp(0.6) + math.exp(0.0) + math.exp(-1.0)))
    for mode in ("sum", "rows"):  # identical with one positive
        assert info_nce(Q, positives, NEGATIVES, 1.0, mode).item() == pytest.approx(expected, abs=1e-6)


def test_info_nce_rho3_two_positives_by_hand():
    positives = torch.tensor([[[0.6, 0.8], [0.8, 0.6]]])  # cosines 0.6 and 0.8; temperature 0.5
    e = math.exp
    expected_sum = -math.log((e(1.2) + e(1.6)) / (e(1.2) + e(1.6) + e(0.0) + e(-2.0)))
    expected_rows = 0.5 * (-math.log(e(1.2) / (e(1.2) + e(0.0) + e(-2.0)))
                           - math.log(e(1.6) / (e(1.6) + e(0.0) + e(-2.0))))
    assert info_nce(Q, positives, NEGATIVES, 0.5, "sum").item() == pytest.approx(expected_sum, abs=1e-6)
    assert info_nce(Q, positives, NEGATIVES, 0.5, "rows").item() == pytest.approx(expected_rows, abs=1e-6)


def test_info_nce_per_query_negatives_match_shared():
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(3, 4), dim=1)
    pos = torch.nn.functional.normalize(torch.randn(3, 2, 4), dim=2)
    neg = torch.nn.functional.normalize(torch.randn(5, 4), dim=1)
    shared = info_nce(q, pos, neg, 0.1)
    per_query = info_nce(q, pos, neg.expand(3, 5, 4), 0.1)
    assert shared.item() == pytest.approx(per_query.item(), rel=1e-6)


def test_info_nce_rejects_unknown_mode():
    with pytest.raises(ValueError, match="multi_positive"):
        info_nce(Q, torch.ones(1, 1, 2), NEGATIVES, 0.1, "mean")


def test_cosine_momentum_schedule():
    assert cosine_momentum(0.994, 0, 100) == pytest.approx(0.994)
    assert cosine_momentum(0.994, 50, 100) == pytest.approx(1 - 0.006 / 2)
    assert cosine_momentum(0.994, 100, 100) == pytest.approx(1.0)
    assert cosine_momentum(0.996, 25, 100) == pytest.approx(1 - 0.004 * (math.cos(math.pi / 4) + 1) / 2)


def test_byol_loss_by_hand():
    from vssl.methods.losses import byol_loss
    prediction = torch.tensor([[3.0, 0.0]])  # normalised to [1, 0]
    targets = torch.tensor([[[0.0, 2.0], [1.0, 1.0]]])  # cosines 0 and 1/√2
    expected = ((2 - 0.0) + (2 - 2 / math.sqrt(2))) / 2
    assert byol_loss(prediction, targets).item() == pytest.approx(expected, abs=1e-6)
    assert byol_loss(prediction, prediction[:, None]).item() == pytest.approx(0.0, abs=1e-6)


def test_simclr_loss_by_hand():
    from vssl.methods.rho_simclr import simclr_loss
    # video 0: a=[1,0], b=[0.6,0.8]; video 1: c=[0,1], d=[-1,0]; temperature 1
    embeddings = torch.tensor([[[1.0, 0.0], [0.6, 0.8]], [[0.0, 1.0], [-1.0, 0.0]]])
    e = math.exp
    per_query = [
        -math.log(e(0.6) / (e(0.6) + e(0.0) + e(-1.0))),  # a: positive b; negatives c, d
        -math.log(e(0.0) / (e(0.0) + e(0.0) + e(0.8))),  # c: positive d; negatives a, b
        -math.log(e(0.6) / (e(0.6) + e(0.8) + e(-0.6))),  # b: positive a; negatives c, d
        -math.log(e(0.0) / (e(0.0) + e(-1.0) + e(-0.6))),  # d: positive c; negatives a, b
    ]
    assert simclr_loss(embeddings, 1.0).item() == pytest.approx(sum(per_query) / 4, abs=1e-6)


def test_sinkhorn_codes_are_doubly_stochastic():
    from vssl.methods.losses import sinkhorn_knopp
    torch.manual_seed(0)
    scores = 0.1 * torch.randn(12, 5)  # cosine-scale scores
    codes = sinkhorn_knopp(scores, epsilon=0.05, iterations=50)
    assert torch.allclose(codes.sum(dim=1), torch.ones(12), atol=1e-4)  # every sample: one unit
    assert torch.allclose(codes.sum(dim=0), torch.full((5,), 12 / 5), atol=1e-4)  # every prototype: B/K
    three = sinkhorn_knopp(scores)  # the paper's 3 iterations end on the sample normalisation
    assert torch.allclose(three.sum(dim=1), torch.ones(12), atol=1e-5)
    assert (three.sum(dim=0) - 12 / 5).abs().max() < 0.2  # near-balanced after 3 iterations


def test_swav_loss_by_hand():
    from vssl.methods.losses import sinkhorn_knopp, swav_loss
    s, eps, alpha = 0.02, 0.05, 0.1
    # code-clip scores [[s, -s], [-s, s]] are already balanced: Sinkhorn keeps their softmax at temperature ε
    a = math.exp(s / eps) / (math.exp(s / eps) + math.exp(-s / eps))
    code = torch.tensor([[s, -s], [-s, s]])
    assert torch.allclose(sinkhorn_knopp(code, eps), torch.tensor([[a, 1 - a], [1 - a, a]]), atol=1e-6)
    scores = torch.stack([code, code.flip(1)], dim=1)  # clip 1 prefers the other prototype
    log_p0 = [math.log(math.exp(s / alpha) / (math.exp(s / alpha) + math.exp(-s / alpha))),
              math.log(math.exp(-s / alpha) / (math.exp(s / alpha) + math.exp(-s / alpha)))]
    # both directions: codes [a, 1-a] against log-probs of the flipped scores [log p(-s), log p(s)]
    expected = -(a * log_p0[1] + (1 - a) * log_p0[0])
    assert swav_loss(scores, alpha, eps).item() == pytest.approx(expected, abs=1e-5)
