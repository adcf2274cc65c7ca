"""kNN, linear probe and metrics on features constructed so the answer is known."""

import pytest
import torch

from vssl.evaluation.knn import knn_scores
from vssl.evaluation.linear import LinearConfig, train_linear_probe
from vssl.evaluation.metrics import classification_metrics, mean_class_accuracy, topk_accuracy


def test_knn_majority_vote_by_hand():
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1, 2])
    test = torch.tensor([[1.0, 0.05], [0.05, 1.0], [-1.0, 0.1]])
    votes = knn_scores(train, labels, test, num_classes=3, k=2, temperature=None)
    assert votes[0].tolist() == [2.0, 0.0, 0.0]
    assert votes[1].tolist() == [0.0, 2.0, 0.0]
    # third test point: nearest is class 2 (cos≈0.995), next is the class-1 point [0.1, 0.9] → a 1:1 tie,
    # which a plain vote resolves to the lower class index
    assert votes[2].tolist() == [0.0, 1.0, 1.0]
    assert votes.argmax(dim=1).tolist() == [0, 1, 1]


def test_knn_weighted_vote_uses_similarity():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.0]])
    plain = knn_scores(train, labels, test, 2, k=3, temperature=None)
    weighted = knn_scores(train, labels, test, 2, k=3, temperature=0.1)
    assert plain.argmax().item() == 1  # two far neighbours outvote one near one
    assert weighted[0, 0].item() == pytest.approx(torch.tensor(10.0).exp().item(), rel=1e-5)
    assert weighted.argmax().item() == 0


def test_linear_probe_separable_clusters():
    generator = torch.Generator().manual_seed(0)
    centres = torch.eye(4) * 5
    labels = torch.arange(4).repeat(10)
    train = centres[labels][:, None, :] + 0.3 * torch.randn(40, 3, 4, generator=generator)
    test_labels = torch.arange(4).repeat(5)
    test = centres[test_labels][:, None, :] + 0.3 * torch.randn(20, 3, 4, generator=generator)
    scores = train_linear_probe(train, labels, test, 4, LinearConfig(epochs=30), seed=0)
    assert scores.shape == (20, 4)
    assert torch.allclose(scores.sum(dim=1), torch.ones(20), atol=1e-5)  # averaged softmax
    assert topk_accuracy(scores, test_labels) == 100.0


def test_mean_class_accuracy_differs_from_top1_when_imbalanced():
    targets = torch.tensor([0] * 8 + [1] * 2)
    predictions = torch.zeros(10, dtype=torch.long)  # always class 0
    assert mean_class_accuracy(predictions, targets) == pytest.approx(50.0)
    scores = torch.nn.functional.one_hot(predictions, 2).float()
    metrics = classification_metrics(scores, targets)
    assert metrics["top1"] == pytest.approx(80.0) and metrics["mean_class_acc"] == pytest.approx(50.0)


def test_top5_reported_only_with_more_than_five_classes():
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]])
    assert topk_accuracy(scores, torch.tensor([2]), 5) == 100.0
    assert topk_accuracy(scores, torch.tensor([1]), 5) == 0.0
    assert "top5" in classification_metrics(scores, torch.tensor([2]))
