"""Charades: the official class list and train/test CSV files; label set ``label``: a video's action classes, a
multi-label set of the 157 classes (Sigurdsson et al. 2016; Thoker 2023 Ch. 4 evaluates it by mAP).

Layout (annotation files in ROOT/Charades, ROOT/annotations or ROOT; videos in ROOT/Charades_v1_480,
ROOT/Charades_v1, ROOT/videos or ROOT):
  Charades_v1_classes.txt   c000 Holding some clothes   (one class a line, in class order)
  Charades_v1_train.csv     id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length
  Charades_v1_test.csv      same columns (split ``test``, the split papers report on)
  <id>.mp4
``actions`` lists "class start end" (seconds) joined by ";", e.g. "c092 11.90 21.20;c147 0.00 12.60", and is empty
for a video without actions. A video's label is its set of class codes in class order, joined by ";"
(:func:`vssl.data.manifest.join_labels`; empty for none); the action times are not kept (video-level labels).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, VideoResolver, find_annotation,
                                      numbered_lines, parse_seconds)
from vssl.data.manifest import Sample, join_labels

ANNOTATION_FOLDERS = ("Charades", "annotations")
VIDEO_FOLDERS = ("Charades_v1_480", "Charades_v1", "videos")
OPTIONS = {"videos": VIDEOS_OPTION, "missing": MISSING_OPTION}
CLASS_LINE = re.compile(r"(c\d+)\s+(\S.*)")
REQUIRED = ("id", "actions")


def read_classes(path: Path) -> list[str]:
    """The class codes ("c000", ...) in file order."""
    codes: dict[str, int] = {}
    for line, text in numbered_lines(path):
        match = CLASS_LINE.fullmatch(text)
        if match is None:
            raise VsslError(f"{path}:{line}: expected '<code> <class name>' (e.g. 'c000 Holding some clothes'), "
                            f"got {text!r}")
        if match[1] in codes:
            raise VsslError(f"{path}:{line}: class {match[1]} is listed twice (first on line {codes[match[1]]})")
        codes[match[1]] = line
    if not codes:
        raise VsslError(f"{path}: no classes")
    return list(codes)


def parse_actions(value: str, order: dict[str, int], where: str) -> list[str]:
    """The distinct classes of an ``actions`` field, in class order."""
    found = set()
    for action in filter(None, (part.strip() for part in value.split(";"))):
        fields = action.split()
        if len(fields) != 3:
            raise VsslError(f"{where}: action {action!r} must be '<class> <start> <end>'")
        if fields[0] not in order:
            raise VsslError(f"{where}: action class {fields[0]!r} is not in the class list")
        for time in fields[1:]:
            parse_seconds(time, where, f"a time of action {action!r}")
        found.add(fields[0])
    return sorted(found, key=order.__getitem__)


def read_split(path: Path, split: str, order: dict[str, int], videos: VideoResolver) -> list[Sample]:
    samples, seen = [], {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
        if missing:
            raise VsslError(f"{path}:1: no '{missing[0]}' column "
                            f"(has: {', '.join(reader.fieldnames or []) or 'none'})")
        line = reader.line_num
        for row in reader:
            where, line = f"{path}:{line + 1}", reader.line_num  # a quoted field may span lines
            video_id = (row["id"] or "").strip()
            if not video_id:
                raise VsslError(f"{where}: empty 'id'")
            if video_id in seen:
                raise VsslError(f"{where}: video {video_id} is listed twice (first at {seen[video_id]})")
            seen[video_id] = where
            classes = parse_actions(row["actions"] or "", order, where)
            video = videos.video(f"{video_id}.mp4", where)
            if video is not None:
                samples.append(Sample(video, split, {"label": join_labels(classes)} if classes else {}))
    return samples


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    classes = read_classes(find_annotation(root, "Charades_v1_classes.txt", ANNOTATION_FOLDERS))
    order = {code: index for index, code in enumerate(classes)}
    samples = []
    for split in ("train", "test"):
        path = find_annotation(root, f"Charades_v1_{split}.csv", ANNOTATION_FOLDERS)
        samples.extend(read_split(path, split, order, videos))
    return Imported(samples, {"label": classes}, train_split="train", test_split="test")
