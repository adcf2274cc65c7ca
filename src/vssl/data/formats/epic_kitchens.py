"""EPIC-Kitchens-100 action recognition: labelled segments of long videos; label sets ``verb``, ``noun``, ``action``.

Annotation files (ROOT/epic-kitchens-100-annotations, ROOT/annotations or ROOT), as in the official repository:
  EPIC_100_train.csv, EPIC_100_validation.csv (split ``val``, the split papers report on)
      narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,
      stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes   (a leading uid is fine)
  EPIC_100_verb_classes.csv, EPIC_100_noun_classes.csv    id,key,instances,category
The unlabelled EPIC_100_test_timestamps.csv is not read. ``verb`` and ``noun`` are the class keys (in class id
order); ``action`` is "<verb_class>:<noun_class>" for every pair that occurs, ordered by (verb id, noun id).

Videos (ROOT/EPIC-KITCHENS, ROOT/videos or ROOT; or ``videos=``):
  layout=videos  ``<participant>/videos/<video_id>.MP4`` (also ``<participant>/<video_id>.MP4`` or a flat folder);
                 start/end are the segment's start_timestamp/stop_timestamp ("HH:MM:SS.ff") in seconds.
  layout=frames  ``<participant>/rgb_frames/<video_id>/frame_0000000001.jpg``; frame folders are read at
                 vssl.data.video.DEFAULT_FRAME_DIR_FPS, so start/end are (start_frame - 1) / that rate and
                 stop_frame / that rate: the segment is exactly frames start_frame..stop_frame.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, Option, VideoResolver,
                                      check_segment, find_annotation, parse_int)
from vssl.data.manifest import Sample
from vssl.data.video import DEFAULT_FRAME_DIR_FPS

ANNOTATION_FOLDERS = ("epic-kitchens-100-annotations", "annotations")
VIDEO_FOLDERS = ("EPIC-KITCHENS", "videos")
OPTIONS = {
    "layout": Option("videos", "MP4 videos plus times, or rgb_frames folders plus frame numbers",
                     ("videos", "frames")),
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}
SEGMENT_COLUMNS = ("participant_id", "video_id", "start_timestamp", "stop_timestamp", "start_frame", "stop_frame",
                   "verb_class", "noun_class")
SPLIT_FILES = {"train": "EPIC_100_train.csv", "val": "EPIC_100_validation.csv"}
TIMESTAMP = re.compile(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def parse_timestamp(value: str, where: str, column: str) -> float:
    """Seconds of an "HH:MM:SS.ff" timestamp."""
    match = TIMESTAMP.fullmatch(value.strip())
    if match is None:
        raise VsslError(f"{where}: {column} must look like 00:01:02.35, got {value!r}")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _rows(path: Path, columns: tuple[str, ...]):
    """(where, row) of a CSV that must have ``columns``; a short or long row raises naming its line."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        absent = [c for c in columns if c not in (reader.fieldnames or [])]
        if absent:
            raise VsslError(f"{path}:1: missing column(s) {', '.join(absent)}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or None in row.values():
                raise VsslError(f"{where}: expected {len(reader.fieldnames)} comma-separated values")
            yield where, row


def read_class_keys(path: Path) -> list[str]:
    """Class keys in id order; ids must be 0..N-1."""
    keys = []
    for where, row in _rows(path, ("id", "key")):
        if parse_int(row["id"], where, "id") != len(keys):
            raise VsslError(f"{where}: expected class id {len(keys)}, got {row['id']!r}")
        keys.append(row["key"])
    return keys


def _class(row: dict, column: str, keys: list[str], where: str) -> int:
    index = parse_int(row[column], where, column)
    if not 0 <= index < len(keys):
        raise VsslError(f"{where}: {column} {index} is not a class id (0..{len(keys) - 1})")
    return index


def _video_and_segment(row: dict, layout: str, videos: VideoResolver, where: str):
    """(path, start, end) of the row's segment, or None when its video is missing."""
    participant, video_id = row["participant_id"].strip(), row["video_id"].strip()
    if layout == "videos":
        start = parse_timestamp(row["start_timestamp"], where, "start_timestamp")
        end = parse_timestamp(row["stop_timestamp"], where, "stop_timestamp")
        path = videos.first_video([f"{participant}/videos/{video_id}.MP4", f"{participant}/{video_id}.MP4",
                                   f"{video_id}.MP4"], where)
    else:
        first = parse_int(row["start_frame"], where, "start_frame")
        last = parse_int(row["stop_frame"], where, "stop_frame")
        start, end = (first - 1) / DEFAULT_FRAME_DIR_FPS, last / DEFAULT_FRAME_DIR_FPS
        path = videos.directory(f"{participant}/rgb_frames/{video_id}", where)
    check_segment(start, end, where)
    return None if path is None else (path, start, end)


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    verbs = read_class_keys(find_annotation(root, "EPIC_100_verb_classes.csv", ANNOTATION_FOLDERS))
    nouns = read_class_keys(find_annotation(root, "EPIC_100_noun_classes.csv", ANNOTATION_FOLDERS))
    samples, actions = [], set()
    for split, name in SPLIT_FILES.items():
        for where, row in _rows(find_annotation(root, name, ANNOTATION_FOLDERS), SEGMENT_COLUMNS):
            verb, noun = _class(row, "verb_class", verbs, where), _class(row, "noun_class", nouns, where)
            actions.add((verb, noun))
            found = _video_and_segment(row, options["layout"], videos, where)
            if found is not None:
                video, start, end = found
                labels = {"verb": verbs[verb], "noun": nouns[noun], "action": f"{verb}:{noun}"}
                samples.append(Sample(video, split, labels, start, end))
    classes = {"verb": verbs, "noun": nouns, "action": [f"{v}:{n}" for v, n in sorted(actions)]}
    return Imported(samples, classes, train_split="train", test_split="val")
