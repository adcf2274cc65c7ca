"""Nested class-balanced subsets of a pre-training pool (Kumar et al. 2023 §4.2, Table 2: 10k ⊂ 30k ⊂ 50k)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from vssl.core.errors import VsslError
from vssl.data.manifest import Sample


def _sort_key(sample: Sample) -> tuple[str, float, float]:
    return sample.path, -1.0 if sample.start is None else sample.start, -1.0 if sample.end is None else sample.end


def nested_balanced_order(samples: list[Sample], label_set: str, seed: int) -> list[Sample]:
    """Every sample once, in the order nested subsets take them; the same for the same seed.

    Within each class the videos (sorted by path and times: the manifest's row order does not matter) are shuffled,
    the classes are put in one shuffled order, and round r takes the r-th video of every class in that order, passing
    over the classes that have run out. A subset of N videos is the first N, so a smaller subset lies inside every
    larger one of the same seed, and each class gives floor(N / C) videos or one more (the first N mod C classes of
    the order) until a class runs out; then the others give the rest.
    """
    by_class: dict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=_sort_key):
        if label_set not in sample.labels:
            raise VsslError(f"{sample.path}: no label '{label_set}' to balance a pre-training subset on "
                            "(data.subset_label)")
        by_class[sample.labels[label_set]].append(sample)
    rng = np.random.default_rng(seed)
    shuffled = {c: [by_class[c][i] for i in rng.permutation(len(by_class[c]))] for c in sorted(by_class)}
    classes = [sorted(by_class)[i] for i in rng.permutation(len(by_class))]
    rounds = max((len(videos) for videos in shuffled.values()), default=0)
    return [shuffled[c][r] for r in range(rounds) for c in classes if r < len(shuffled[c])]


def nested_balanced_subset(samples: list[Sample], label_set: str, size: int, seed: int) -> list[Sample]:
    """The first ``size`` videos of :func:`nested_balanced_order`, in the manifest's order."""
    if not 1 <= size <= len(samples):
        raise VsslError(f"data.subset={size} must be between 1 and the split's {len(samples)} videos")
    chosen = {id(sample) for sample in nested_balanced_order(samples, label_set, seed)[:size]}
    return [sample for sample in samples if id(sample) in chosen]
