"""Kinetics-400/600/700: the official annotation CSVs (label,youtube_id,time_start,time_end,split); label ``label``.

Annotation files: every ``*.csv`` in ROOT/annotations (or ROOT) whose header has ``youtube_id``, ``time_start`` and
``time_end`` — e.g. train.csv, validate.csv, test.csv. Extra columns (``is_cc``) are ignored. The split comes from
the ``split`` column ("validate"/"validation" become "val"), else from the file name (train/val/test in it).
Rows without a label (test CSVs) get no label. Classes are the label names sorted, the order models index them.

Video files (below ROOT/videos, else ROOT, or ``videos=``):
  layout=trimmed  one clip per row named ``<youtube_id>_<time_start:06d>_<time_end:06d>.<suffix>`` in any
                  sub-folder: ``train/abseiling/…`` (ActivityNet downloader), ``train/…`` (CVDF archives) or flat.
                  If the name occurs in several folders, the first found (top-down, names sorted) is taken.
  layout=full     the whole YouTube video ``<youtube_id>.<suffix>`` in any sub-folder; the row's time_start and
                  time_end become the manifest's start and end (seconds).
"""

from __future__ import annotations

import csv
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, Option, VideoResolver,
                                      annotation_folder, check_segment, parse_seconds)
from vssl.data.manifest import Sample

ANNOTATION_FOLDERS = ("annotations",)
VIDEO_FOLDERS = ("videos",)
OPTIONS = {
    "layout": Option("trimmed", "one file per clip (trimmed) or whole YouTube videos plus times (full)",
                     ("trimmed", "full")),
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}
REQUIRED_COLUMNS = ("youtube_id", "time_start", "time_end")
SPLIT_NAMES = {"train": "train", "val": "val", "validate": "val", "validation": "val", "test": "test"}
SPLIT_ORDER = ("train", "val", "test")


def annotation_csvs(folder: Path) -> list[Path]:
    """The CSVs in ``folder`` with the Kinetics columns, train before val before test (by file name)."""
    found = []
    for path in sorted(folder.glob("*.csv"), key=lambda p: (SPLIT_ORDER.index(_split_from_name(p) or "test"), p)):
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
        if all(column in header for column in REQUIRED_COLUMNS):
            found.append(path)
    if not found:
        raise VsslError(f"no Kinetics annotation CSV (columns {', '.join(REQUIRED_COLUMNS)}) in {folder}")
    return found


def _split_from_name(path: Path) -> str | None:
    name = path.stem.lower()
    for word in ("train", "val", "test"):
        if word in name:
            return SPLIT_NAMES[word]
    return None


def _row_split(row: dict, path: Path, where: str) -> str:
    value = (row.get("split") or "").strip()
    if value:
        if value.lower() not in SPLIT_NAMES:
            raise VsslError(f"{where}: unknown split {value!r} (expected one of {', '.join(SPLIT_NAMES)})")
        return SPLIT_NAMES[value.lower()]
    split = _split_from_name(path)
    if split is None:
        raise VsslError(f"{where}: no 'split' value, and the file name says neither train, val nor test")
    return split


def read_rows(path: Path, layout: str, videos: VideoResolver) -> tuple[list[Sample], set[str]]:
    """The samples of one CSV whose videos were found, and every label it names."""
    samples, labels_seen = [], set()
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or None in row.values():
                raise VsslError(f"{where}: expected the {len(reader.fieldnames)} columns "
                                f"{','.join(reader.fieldnames)}, got {len(row) - (None in row)} value(s)")
            youtube_id = row["youtube_id"].strip()
            if not youtube_id:
                raise VsslError(f"{where}: empty youtube_id")
            start = parse_seconds(row["time_start"], where, "time_start")
            end = parse_seconds(row["time_end"], where, "time_end")
            check_segment(start, end, where)
            split = _row_split(row, path, where)
            label = (row.get("label") or "").strip()
            labels = {"label": label} if label else {}
            labels_seen.update(labels.values())
            if layout == "trimmed":
                video = videos.video_by_name(f"{youtube_id}_{int(start):06d}_{int(end):06d}", where)
                if video is not None:
                    samples.append(Sample(video, split, labels))
            else:
                video = videos.video_by_name(youtube_id, where)
                if video is not None:
                    samples.append(Sample(video, split, labels, start, end))
    return samples, labels_seen


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    samples, classes = [], set()
    for path in annotation_csvs(annotation_folder(root, ANNOTATION_FOLDERS)):
        file_samples, file_labels = read_rows(path, options["layout"], videos)
        samples.extend(file_samples)
        classes.update(file_labels)
    samples.sort(key=lambda s: SPLIT_ORDER.index(s.split))  # stable: file order within a split
    return Imported(samples, {"label": sorted(classes)}, train_split="train", test_split="val")
