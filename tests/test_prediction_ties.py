"""Tied class scores: every metric predicts the lower class index, so top-1, top-5 and mean-class accuracy agree."""

import torch

from vssl.evaluation.knn import knn_scores
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
    votes = knn_scores(train, torch.tensor([2, 0, 1]), torch.tensor([[1.0, 0.0]]), num_classes=3, k=2)
    assert votes.tolist() == [[1.0, 0.0, 1.0]]
    assert classification_metrics(votes, torch.tensor([0])) == {"top1": 100.0, "mean_class_acc": 100.0}
    assert classification_metrics(votes, torch.tensor([2])) == {"top1": 0.0, "mean_class_acc": 0.0}
