"""Retrieval top-k, tap naming, linear SVMs and ASLAN measures on hand-built features with known answers."""

import math

import numpy as np
import pytest
import torch

from vssl.core.errors import ConfigError, VsslError
from vssl.evaluation.metrics import topk_accuracy
from vssl.evaluation.retrieval import retrieval_topk
from vssl.evaluation.svm import (aslan_accuracy, aslan_measures, leave_one_out_scores, svm_scores,
                                 video_features)
from vssl.evaluation.taps import global_average, pool_name_map, resolve_taps

RESNET_TAPS = ("stem", "layer1", "layer2", "layer3", "layer4", "pool")


def test_retrieval_topk_by_hand():
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    train_labels = torch.tensor([0, 1, 1, 2])
    test = torch.tensor([[1.0, 0.1], [-1.0, 0.05], [0.1, -1.0], [0.0, 1.0]])
    # query 0 (class 1): nearest train 0 (class 0), then train 1 (class 1) → hit from k = 2
    # query 1 (class 2): nearest train 3 → hit at k = 1; query 2 (class 0): nearest train 0 → hit at k = 1
    # query 3 (class 3): no training video has class 3 → never a hit, even with k = 50 > 4 training videos
    test_labels = torch.tensor([1, 2, 0, 3])
    hits = retrieval_topk(train, train_labels, test, test_labels, top_k=(1, 2, 3, 50))
    assert hits == {1: pytest.approx(50.0), 2: pytest.approx(75.0), 3: pytest.approx(75.0), 50: pytest.approx(75.0)}


def test_retrieval_is_cosine_not_euclidean():
    train = torch.tensor([[10.0, 0.0], [0.1, 0.12]])  # far along x, and a short vector pointing like the query
    query = torch.tensor([[1.0, 1.2]])
    assert retrieval_topk(train, torch.tensor([0, 1]), query, torch.tensor([1]), top_k=(1,)) == {1: 100.0}


def test_pool_names_map_onto_backbone_taps():
    assert pool_name_map(RESNET_TAPS) == {"pool1": "stem", "pool2": "layer1", "pool3": "layer2", "pool4": "layer3",
                                          "pool5": "layer4"}
    c3d = ("pool1", "pool2", "pool3", "pool4", "pool5", "fc6", "pool")
    assert pool_name_map(c3d) == {f"pool{i}": f"pool{i}" for i in range(1, 6)}
    assert pool_name_map(("pool1", "pool2", "pool3", "pool4", "conv5", "pool"))["pool5"] == "conv5"  # c3d_bn
    i3d = pool_name_map(("stem", "mixed_3", "mixed_4", "mixed_5", "pool"))
    assert i3d == {"pool2": "stem", "pool3": "mixed_3", "pool4": "mixed_4", "pool5": "mixed_5"}


def test_resolve_taps_accepts_pool_names_tap_names_lists_and_all():
    assert resolve_taps("all", RESNET_TAPS, "retrieval.taps") == list(RESNET_TAPS)
    assert resolve_taps("pool3,pool5", RESNET_TAPS, "retrieval.taps") == ["layer2", "layer4"]
    assert resolve_taps(("layer4", "pool5", "pool"), RESNET_TAPS, "retrieval.taps") == ["layer4", "pool"]
    with pytest.raises(ConfigError, match=r"retrieval\.taps: unknown tap 'pool1' .*pool2"):
        resolve_taps("pool1", ("stem", "mixed_3", "mixed_4", "mixed_5", "pool"), "retrieval.taps")


def test_global_average_of_maps_tokens_and_vectors():
    maps = torch.arange(2 * 3 * 2 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2, 2)
    assert torch.equal(global_average(maps), maps.flatten(2).mean(dim=2))
    tokens = torch.tensor([[[1.0, 2.0], [3.0, 6.0]]])
    assert global_average(tokens).tolist() == [[2.0, 4.0]]
    assert global_average(torch.ones(2, 5)).shape == (2, 5)


def _clusters(per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat(per_class)
    features = torch.eye(3)[labels][:, None, :] * 4 + 0.2 * torch.randn(len(labels), 2, 3, generator=generator)
    return video_features(features.abs()), labels


def test_video_features_average_views_then_l2_normalise():
    views = torch.tensor([[[3.0, 0.0], [1.0, 0.0]], [[0.0, 2.0], [0.0, 4.0]]])
    assert video_features(views).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_linear_svm_separates_clusters():
    train, train_labels = _clusters(6, seed=0)
    test, test_labels = _clusters(4, seed=1)
    scores = svm_scores(train, train_labels, test, num_classes=4)
    assert scores.shape == (12, 4) and torch.isinf(scores[:, 3]).all()  # class 3 never seen in training
    assert topk_accuracy(scores, test_labels) == 100.0


def test_leave_one_out_misses_exactly_the_singleton_class():
    features, labels = _clusters(4, seed=2)
    singleton = torch.tensor([[0.5, 0.5, 0.7071]])
    features = torch.cat([features, singleton / singleton.norm()])
    labels = torch.cat([labels, torch.tensor([3])])
    scores = leave_one_out_scores(features, labels, num_classes=4)
    # held out, the singleton's class is absent from training: only that video is wrong
    assert scores.argmax(dim=1).ne(labels).nonzero().flatten().tolist() == [12]
    assert topk_accuracy(scores, labels) == pytest.approx(100.0 * 12 / 13)


def test_aslan_measures_by_hand():
    a, b = np.array([[1.0, 4.0]]), np.array([[4.0, 1.0]])
    expected = [8, math.sqrt(8), 2, math.sqrt(1.6), 8 / 17, math.sqrt(3.6), 6, math.sqrt(2), 3 * math.log(4),
                math.sqrt(18), 4 / math.sqrt(5), 2 / 25]
    assert aslan_measures(a, b)[0] == pytest.approx(expected, rel=1e-6)
    assert aslan_measures(b, a)[0] == pytest.approx(expected, rel=1e-6)  # every measure is symmetric


def test_aslan_measures_drop_zero_over_zero_terms():
    a, b = np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])
    m = aslan_measures(a, b)[0]
    assert m[3] == pytest.approx(math.sqrt(0.5))  # √(1·1/2 + 0)
    assert m[5] == 0.0 and m[8] == pytest.approx(0.0, abs=1e-9) and m[10] == pytest.approx(1 / math.sqrt(2))
    with pytest.raises(VsslError, match="non-negative"):
        aslan_measures(np.array([[-0.1, 1.0]]), b)


def test_aslan_same_not_same_on_separable_pairs():
    generator = torch.Generator().manual_seed(0)
    classes = torch.arange(8).repeat_interleave(3)  # 24 videos, 8 classes of 3
    raw = torch.eye(8)[classes] + 0.05 * torch.rand(24, 8, generator=generator)
    taps = [video_features(raw[:, None]), video_features(raw[:, None] ** 2)]
    rng = np.random.default_rng(0)
    pairs = []
    for fold in range(4):
        for _ in range(10):
            a = int(rng.integers(24))
            same = [i for i in range(24) if classes[i] == classes[a] and i != a]
            other = [i for i in range(24) if classes[i] != classes[a]]
            pairs.append((fold, a, int(rng.choice(same)), True))
            pairs.append((fold, a, int(rng.choice(other)), False))
    accuracies = aslan_accuracy(taps, pairs)
    assert accuracies == [100.0] * 4
    with pytest.raises(VsslError, match="at least 2 folds"):
        aslan_accuracy(taps, [p for p in pairs if p[0] == 0])
