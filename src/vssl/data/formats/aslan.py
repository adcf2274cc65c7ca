"""ASLAN action similarity: the videos of the 10 same/not-same folds (manifest, split ``all``) and their pairs.

Pair files: one per fold, named by ``pairs=`` with ``{fold}`` for the fold number (default ``split{fold}.txt``,
looked up in ROOT); folds must be numbered 1..N. Each line is ``<video a> <video b> <same>`` with same = 1 (same
action) or 0 (not same); a video is named by its path below the video folder (ROOT/ASLAN_AVI, ROOT/videos or ROOT),
with or without its suffix. The protocol (Wang 2020, Sec. 3.6): features per video, 12 (dis)similarities per
pair, a linear SVM, 10-fold cross-validation over the folds.
The pairs are written next to the manifest as ``<out stem>.pairs.csv`` (fold,video_a,video_b,same) with the
videos' paths as the manifest stores them; :func:`read_pairs` reads them back and :func:`pair_indices` turns them
into (fold, index_a, index_b, same) tuples over the manifest's samples.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.core.io import atomic_open
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, Option, VideoResolver,
                                      manifest_relative, numbered_lines, parse_int)
from vssl.data.manifest import Sample

VIDEO_FOLDERS = ("ASLAN_AVI", "videos")
OPTIONS = {
    "pairs": Option("split{fold}.txt", "pair file name of each fold, {fold} = 1, 2, ..."),
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}
PAIR_COLUMNS = ("fold", "video_a", "video_b", "same")


@dataclass(frozen=True)
class Pair:
    """Two videos of one fold and whether they show the same action; a and b are manifest sample paths."""

    fold: int
    a: str
    b: str
    same: bool


def pair_files(root: Path, pattern: str) -> dict[int, Path]:
    """Fold number -> pair file, for every file in ``root`` matching the ``{fold}`` pattern."""
    if pattern.count("{fold}") != 1:
        raise VsslError(f"option pairs={pattern!r} must contain '{{fold}}' once")
    before, after = pattern.split("{fold}")
    name = re.compile(re.escape(before) + r"(\d+)" + re.escape(after))
    files = {}
    for path in root.iterdir():
        match = name.fullmatch(path.name)
        if match and path.is_file():
            files[int(match.group(1))] = path
    if not files:
        raise VsslError(f"no ASLAN pair files {pattern} in {root}")
    if sorted(files) != list(range(1, len(files) + 1)):
        raise VsslError(f"ASLAN pair files in {root} must be folds 1..N, found folds {sorted(files)}")
    return dict(sorted(files.items()))


def read_fold(path: Path, fold: int, videos: VideoResolver) -> list[Pair]:
    pairs = []
    for line_no, line in numbered_lines(path):
        where = f"{path}:{line_no}"
        parts = line.split()
        if len(parts) != 3 or parts[2] not in ("0", "1"):
            raise VsslError(f"{where}: expected '<video a> <video b> <1 same | 0 not same>', got {line!r}")
        a, b = videos.video(parts[0], where), videos.video(parts[1], where)
        if a is not None and b is not None:
            pairs.append(Pair(fold, a, b, parts[2] == "1"))
    return pairs


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    pairs = []
    for fold, path in pair_files(root, options["pairs"]).items():
        pairs.extend(read_fold(path, fold, videos))
    paths = sorted({p.a for p in pairs} | {p.b for p in pairs})
    samples = [Sample(path, "all") for path in paths]
    return Imported(samples, {}, train_split=None, test_split=None, pairs=pairs)


def pairs_path(manifest: str | os.PathLike) -> Path:
    """The pairs of ``<folder>/<name>.csv`` are in ``<folder>/<name>.pairs.csv``."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.stem + ".pairs.csv")


def write_pairs(pairs: list[Pair], manifest: str | os.PathLike) -> Path:
    """Write the pairs next to ``manifest``, each video path as the manifest stores it."""
    path = pairs_path(manifest)
    folder = path.parent
    with atomic_open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(PAIR_COLUMNS)
        for pair in pairs:
            writer.writerow([pair.fold, manifest_relative(pair.a, folder), manifest_relative(pair.b, folder),
                             int(pair.same)])
    return path


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """Pairs from a ``.pairs.csv``; relative video paths resolve against its folder, as ``read_manifest`` does."""
    path = Path(path)
    if not path.is_file():
        raise VsslError(f"pairs file not found: {path}")
    pairs = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != PAIR_COLUMNS:
            raise VsslError(f"{path}:1: expected the columns {','.join(PAIR_COLUMNS)}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row.values() or row["same"] not in ("0", "1"):
                raise VsslError(f"{where}: expected '<fold>,<video a>,<video b>,<1|0>'")
            a, b = (v if os.path.isabs(v) else str(path.parent / v) for v in (row["video_a"], row["video_b"]))
            pairs.append(Pair(parse_int(row["fold"], where, "fold"), a, b, row["same"] == "1"))
    return pairs


def pair_indices(pairs: list[Pair], samples: list[Sample]) -> list[tuple[int, int, int, bool]]:
    """(fold, index of a, index of b, same) with indices into ``samples`` (e.g. ``read_manifest``'s list)."""
    index = {s.path: i for i, s in enumerate(samples)}
    missing = [p for p in pairs if p.a not in index or p.b not in index]
    if missing:
        video = missing[0].a if missing[0].a not in index else missing[0].b
        raise VsslError(f"pair video {video} (fold {missing[0].fold}) is not among the manifest's samples")
    return [(p.fold, index[p.a], index[p.b], p.same) for p in pairs]
