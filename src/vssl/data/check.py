"""`vssl data check` as a function: every file probed once, samples and classes counted per split and label set."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from vssl.data.index import build_index, index_path_for
from vssl.data.manifest import read_manifest


@dataclass
class DataReport:
    """What ``check`` found: sample and file counts, samples per split, class counts per (split, label set), and
    the error of every unreadable file (path → one line)."""

    samples: int
    files: int
    per_split: dict[str, int]
    classes: dict[tuple[str, str], Counter] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unreadable


def check(manifest: str | Path, progress: bool = False) -> DataReport:
    """Probe every video of ``manifest`` (cached in its index) and count samples per split and class."""
    samples = read_manifest(manifest)
    index = build_index(samples, cache=index_path_for(manifest), progress=progress)
    classes: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for sample in samples:
        for label_set, value in sample.labels.items():
            classes[(sample.split, label_set)][value] += 1
    return DataReport(len(samples), len({s.path for s in samples}), dict(Counter(s.split for s in samples)),
                      dict(classes), dict(index.errors))
