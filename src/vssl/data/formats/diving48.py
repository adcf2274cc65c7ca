"""Diving48: the official vocabulary and train/test JSON files; label set ``label`` (48 dive classes).

Layout (annotation files in ROOT/annotations or ROOT; videos in ROOT/rgb, ROOT/videos or ROOT):
  Diving48_vocab.json      [["Back", "15som", "05Twis", "FREE"], ...]  (takeoff, somersault, twist, flight)
  Diving48_V2_train.json   [{"vid_name": "-mmq0PT-u8k_00155", "label": 0, "start_frame": 0, "end_frame": 48}, ...]
  Diving48_V2_test.json    same entries (split ``test``)
  <vid_name>.mp4
``version=1`` reads Diving48_train.json / Diving48_test.json instead (the V2 files carry the cleaned labels).
A class is named by its four attributes joined with spaces ("Back 15som 05Twis FREE"); class order is vocabulary
order. The released rgb clips are already trimmed to the dive: start_frame is 0 and end_frame its length, so
the whole clip is used (the frame bounds are checked, not stored).
"""

from __future__ import annotations

from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, Option, VideoResolver,
                                      find_annotation, json_list_entries)
from vssl.data.manifest import Sample

ANNOTATION_FOLDERS = ("annotations",)
VIDEO_FOLDERS = ("rgb", "videos")
OPTIONS = {
    "version": Option("2", "annotation version (2: cleaned labels)", ("1", "2")),
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}
SPLIT_FILE_STEMS = {"1": "Diving48", "2": "Diving48_V2"}


def read_vocabulary(path: Path) -> list[str]:
    classes = []
    for line, entry in json_list_entries(path):
        if not (isinstance(entry, list) and len(entry) == 4 and all(isinstance(part, str) for part in entry)):
            raise VsslError(f"{path}:{line}: expected [takeoff, somersault, twist, flight], got {entry!r}")
        classes.append(" ".join(entry))
    return classes


def _frame_bound(entry: dict, key: str, where: str) -> int:
    value = entry.get(key)
    if not isinstance(value, int) or value < 0:
        raise VsslError(f"{where}: '{key}' must be a non-negative integer, got {value!r}")
    return value


def read_split(path: Path, split: str, classes: list[str], videos: VideoResolver) -> list[Sample]:
    samples = []
    for line, entry in json_list_entries(path):
        where = f"{path}:{line}"
        if not isinstance(entry, dict) or not isinstance(entry.get("vid_name"), str) or not entry["vid_name"]:
            raise VsslError(f"{where}: expected an entry with 'vid_name', 'label', 'start_frame', 'end_frame', "
                            f"got {entry!r}")
        label = entry.get("label")
        if not isinstance(label, int) or not 0 <= label < len(classes):
            raise VsslError(f"{where}: label of {entry['vid_name']} must be a class index 0..{len(classes) - 1}, "
                            f"got {label!r}")
        if _frame_bound(entry, "end_frame", where) <= _frame_bound(entry, "start_frame", where):
            raise VsslError(f"{where}: end_frame of {entry['vid_name']} must be after its start_frame")
        video = videos.video(f"{entry['vid_name']}.mp4", where)
        if video is not None:
            samples.append(Sample(video, split, {"label": classes[label]}))
    return samples


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    classes = read_vocabulary(find_annotation(root, "Diving48_vocab.json", ANNOTATION_FOLDERS))
    stem = SPLIT_FILE_STEMS[options["version"]]
    samples = []
    for split in ("train", "test"):
        samples.extend(read_split(find_annotation(root, f"{stem}_{split}.json", ANNOTATION_FOLDERS), split,
                                  classes, videos))
    return Imported(samples, {"label": classes}, train_split="train", test_split="test")
