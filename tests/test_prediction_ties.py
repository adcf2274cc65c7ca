"""Tied class scores: every metric predicts the lower class index, so top-1, top-5 and mean-class accuracy agree."""

import math

import torch

from vssl.evaluation.knn import WEIGHTED_VOTE_TEMPERATURE, KnnConfig, knn_rule, knn_scores
from vssl.evaluation.metrics import (classification_metrics, mean_class_accuracy, predicted_classes, ranked_classes,
                                     topk_accuracy)

TIED = torch.tensor([[1.0, 1.0, 0.0],   # classes 0 and 1 tie: 0
                     [0.0, 2.0, 2.0],   # 1 and 2 tie: 1
                     [3.0, 3.0, 3.0],   # all tie: 0
                     [0.0, 0.0, 1.0]])  # no tie: 2


def test_a_tie_goes_to_the_lower_class_index():
    assert predicted_classes(TIED).tolist() == [0, 1, 0, 2]
    assert ranked_classes(torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0]])).tolist() == [[1, 2, 4, 0, 3]]
    assert predicted_classes(torch.zeros(3, 1000)).tolist() == [0, 0, 0]  # large rows too


def test_top1_and_mean_class_accuracy_agree_on_the_tied_prediction():
    for row, lower, higher in ((TIED[0:1], 0, 1), (TIED[1:2], 1, 2)):
        lower_wins = classification_metrics(row, torch.tensor([lower]))
        higher_loses = classification_metrics(row, torch.tensor([higher]))
        assert lower_wins == {"top1": 100.0, "mean_class_acc": 100.0}
        assert higher_loses == {"top1": 0.0, "mean_class_acc": 0.0}
    # rows right: 0 (target 0) and 3 (target 2); wrong: 1 (target 2, predicted 1) and 2 (target 1, predicted 0)
    targets = torch.tensor([0, 2, 1, 2])
    metrics = classification_metrics(TIED, targets)
    assert metrics["top1"] == 50.0
    assert metrics["mean_class_acc"] == 100.0 * (1.0 + 0.0 + 0.5) / 3  # class 0: 1/1, class 1: 0/1, class 2: 1/2
    assert mean_class_accuracy(predicted_classes(TIED), targets) == metrics["mean_class_acc"]


def test_top5_takes_the_five_lowest_indices_of_a_tie():
    scores = torch.zeros(2, 7)  # every class ties: the top five are 0..4
    assert topk_accuracy(scores, torch.tensor([4, 5]), 5) == 50.0
    assert classification_metrics(scores, torch.tensor([0, 6])) == {"top1": 50.0, "mean_class_acc": 50.0,
                                                                       "top5": 50.0}


def test_a_tied_knn_vote_predicts_the_lower_class():
    train = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # classes 2 and 0 equally close to the query
    votes = knn_scores(train, torch.tensor([2, 0, 1]), torch.tensor([[1.0, 0.0]]), num_classes=3, k=2,
                       temperature=None)  # a majority vote
    assert votes.tolist() == [[1.0, 0.0, 1.0]]
    assert classification_metrics(votes, torch.tensor([0])) == {"top1": 100.0, "mean_class_acc": 100.0}
    assert classification_metrics(votes, torch.tensor([2])) == {"top1": 0.0, "mean_class_acc": 0.0}


def test_the_default_weighted_vote_breaks_a_majority_tie_by_similarity():
    """Wu et al. 2018's vote, exp(cos / 0.07) per neighbour: the nearer neighbour's class wins a 1-1 count."""
    train = torch.tensor([[0.6, 0.8], [1.0, 0.1]])  # class 0 at cosine 0.6 from the query, class 1 at 0.995
    query, labels = torch.tensor([[1.0, 0.0]]), torch.tensor([0, 1])
    majority = knn_scores(train, labels, query, num_classes=2, k=2, temperature=None)
    weighted = knn_scores(train, labels, query, num_classes=2, k=2)  # the default temperature
    assert majority.tolist() == [[1.0, 1.0]] and ranked_classes(majority)[0, 0] == 0  # tie: the lower index
    cosine_1 = 1.0 / (1.0 + 0.1**2) ** 0.5
    torch.testing.assert_close(weighted, torch.tensor([[math.exp(0.6 / 0.07), math.exp(cosine_1 / 0.07)]]))
    assert ranked_classes(weighted)[0, 0] == 1
    assert KnnConfig().temperature == WEIGHTED_VOTE_TEMPERATURE == 0.07
    assert knn_rule(10, 0.07) == "k=10, exp(sim/0.07) vote, ties to lower class"
    assert knn_rule(20, None) == "k=20, majority vote, ties to lower class"
