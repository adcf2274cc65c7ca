"""Class-balanced low-shot subsets of a training split (SEVERE's sample-efficiency factor, Thoker 2023 §B.2.2), drawn
once and saved, so that every encoder is evaluated on exactly the same videos.

Drawing N videos from C classes: every class gets floor(N / C) videos; the N mod C remaining videos go to as many
different classes, drawn at random (with the subset seed) among the classes that have more videos than that
floor. Within a class the videos are drawn uniformly without replacement. It is an error when N exceeds the
split, or when some class cannot give its share.

The subset is saved as ``<manifest folder>/subsets/<manifest name>.<split>.<label set>.n<N>.seed<seed>.txt``, one
video per line (its path relative to the manifest's folder when inside it, then the segment start and end in
seconds for segment rows, tab-separated), and reloaded from there on every later run.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from vssl.core.errors import VsslError
from vssl.core.io import write_text_atomic
from vssl.data.manifest import Sample

SampleKey = tuple[str, float | None, float | None]


def class_quotas(class_sizes: dict[str, int], size: int, rng: np.random.Generator) -> dict[str, int]:
    """Videos to draw from each class for a balanced subset of ``size`` (see the module docstring)."""
    total = sum(class_sizes.values())
    if not 1 <= size <= total:
        raise VsslError(f"train_subset={size} must be between 1 and the split's {total} videos")
    share, remainder = divmod(size, len(class_sizes))
    short = sorted(c for c, n in class_sizes.items() if n < share)
    if short:
        raise VsslError(f"train_subset={size}: class '{short[0]}' has {class_sizes[short[0]]} videos, fewer than "
                        f"its balanced share of {share} ({len(class_sizes)} classes)")
    larger = sorted(c for c, n in class_sizes.items() if n > share)
    if len(larger) < remainder:
        raise VsslError(f"train_subset={size}: {remainder} classes need {share + 1} videos but only {len(larger)} "
                        f"have that many")
    extra = set(rng.choice(larger, size=remainder, replace=False).tolist()) if remainder else set()
    return {c: share + (c in extra) for c in class_sizes}


def draw_balanced_subset(samples: list[Sample], label_set: str, size: int, seed: int) -> list[Sample]:
    """A class-balanced subset of ``size`` samples, in manifest order; the same for the same arguments."""
    by_class: dict[str, list[int]] = defaultdict(list)
    for position, sample in enumerate(samples):
        if label_set not in sample.labels:
            raise VsslError(f"{sample.path}: no label '{label_set}' to balance a subset on")
        by_class[sample.labels[label_set]].append(position)
    rng = np.random.default_rng(seed)
    quotas = class_quotas({c: len(p) for c, p in sorted(by_class.items())}, size, rng)
    chosen = [p for c in sorted(by_class) for p in rng.choice(by_class[c], size=quotas[c], replace=False).tolist()]
    return [samples[p] for p in sorted(chosen)]


def subset_file(manifest: str | os.PathLike, split: str, label_set: str, size: int, seed: int) -> Path:
    manifest = Path(manifest)
    return manifest.parent / "subsets" / f"{manifest.stem}.{split}.{label_set}.n{size}.seed{seed}.txt"


def _sample_key(path: str, start: float | None, end: float | None) -> SampleKey:
    return str(Path(path).resolve()), start, end


def _line_of(sample: Sample, root: Path) -> str:
    resolved = Path(sample.path).resolve()
    path = str(resolved.relative_to(root)) if resolved.is_relative_to(root) else sample.path
    if sample.start is None and sample.end is None:
        return path
    return "\t".join([path, "" if sample.start is None else repr(sample.start),
                      "" if sample.end is None else repr(sample.end)])


def _key_of_line(line: str, root: Path) -> SampleKey:
    path, *times = line.split("\t")
    start, end = (float(t) if t else None for t in (times + ["", ""])[:2])
    return _sample_key(path if os.path.isabs(path) else str(root / path), start, end)


def load_or_draw_subset(manifest: str | os.PathLike, samples: list[Sample], split: str, label_set: str, size: int,
                        seed: int) -> list[Sample]:
    """The saved subset of ``samples`` (the manifest's ``split``) if its file exists; else draw it and save it."""
    path = subset_file(manifest, split, label_set, size, seed)
    root = Path(manifest).parent.resolve()
    if not path.is_file():
        subset = draw_balanced_subset(samples, label_set, size, seed)
        write_text_atomic(path, "".join(_line_of(s, root) + "\n" for s in subset))
        return subset
    by_key = {_sample_key(s.path, s.start, s.end): s for s in samples}
    subset = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        sample = by_key.get(_key_of_line(line, root))
        if sample is None:
            raise VsslError(f"{path}:{line_no}: '{line}' is not a video of split '{split}' of {manifest}")
        subset.append(sample)
    return subset
