"""Class-balanced low-shot subsets: exact quotas, reproducible draws, saved and reloaded files, clear errors."""

from collections import Counter

import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.data.manifest import Sample
from vssl.evaluation.subsets import class_quotas, draw_balanced_subset, load_or_draw_subset, subset_file

CLASS_SIZES = {"a": 10, "b": 6, "c": 5}


def _samples(root) -> list[Sample]:
    return [Sample(path=str(root / "videos" / f"{c}{i}.mp4"), split="train", labels={"label": c})
            for c, n in CLASS_SIZES.items() for i in range(n)]


def test_quotas_share_and_remainder():
    rng = np.random.default_rng(0)
    assert class_quotas(CLASS_SIZES, 9, rng) == {"a": 3, "b": 3, "c": 3}
    # 17 = 3 × 5 + 2: the two extra videos go to the only classes with more than 5 videos
    assert class_quotas(CLASS_SIZES, 17, rng) == {"a": 6, "b": 6, "c": 5}
    assert sorted(class_quotas(CLASS_SIZES, 10, rng).values()) == [3, 3, 4]


@pytest.mark.parametrize("size, message", [
    (22, "between 1 and the split's 21 videos"),
    (18, "class 'c' has 5 videos, fewer than its balanced share of 6"),
    (0, "between 1 and"),
])
def test_quota_errors(size, message):
    with pytest.raises(VsslError, match=message):
        class_quotas(CLASS_SIZES, size, np.random.default_rng(0))


def test_subset_is_balanced_reproducible_and_seed_dependent(tmp_path):
    samples = _samples(tmp_path)
    first = draw_balanced_subset(samples, "label", 12, seed=0)
    assert Counter(s.labels["label"] for s in first) == {"a": 4, "b": 4, "c": 4}
    assert len({s.path for s in first}) == 12
    assert [s.path for s in draw_balanced_subset(samples, "label", 12, seed=0)] == [s.path for s in first]
    assert [s.path for s in draw_balanced_subset(samples, "label", 12, seed=1)] != [s.path for s in first]


def test_subset_saved_next_to_the_manifest_and_reloaded(tmp_path):
    manifest = tmp_path / "manifest.csv"
    samples = _samples(tmp_path)
    subset = load_or_draw_subset(manifest, samples, "train", "label", 9, seed=3)
    path = subset_file(manifest, "train", "label", 9, 3)
    assert path == tmp_path / "subsets" / "manifest.train.label.n9.seed3.txt"
    lines = path.read_text().splitlines()
    assert lines == [f"videos/{s.path.rsplit('/', 1)[1]}" for s in subset]  # relative to the manifest's folder
    # the file, not a new draw, decides: edit it and the edit is what comes back
    path.write_text("videos/a0.mp4\nvideos/c4.mp4\n")
    assert [s.path for s in load_or_draw_subset(manifest, samples, "train", "label", 9, seed=3)] == \
        [str(tmp_path / "videos" / "a0.mp4"), str(tmp_path / "videos" / "c4.mp4")]
    path.write_text("videos/z9.mp4\n")
    with pytest.raises(VsslError, match=r"n9\.seed3\.txt:1: 'videos/z9\.mp4' is not a video of split 'train'"):
        load_or_draw_subset(manifest, samples, "train", "label", 9, seed=3)


def test_segments_of_one_file_are_told_apart(tmp_path):
    manifest = tmp_path / "manifest.csv"
    samples = [Sample(path=str(tmp_path / "long.mp4"), split="train", labels={"label": c}, start=float(i), end=i + 1.5)
               for i, c in enumerate("xyxyxy")]
    subset = load_or_draw_subset(manifest, samples, "train", "label", 2, seed=0)
    reloaded = load_or_draw_subset(manifest, samples, "train", "label", 2, seed=0)
    assert [(s.start, s.end) for s in reloaded] == [(s.start, s.end) for s in subset]
    assert sorted(s.labels["label"] for s in reloaded) == ["x", "y"]
    assert subset_file(manifest, "train", "label", 2, 0).read_text().splitlines()[0].count("\t") == 2
