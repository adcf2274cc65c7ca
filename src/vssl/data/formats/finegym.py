"""FineGym: Gym99 / Gym288 element labels and the SEVERE subsets Vault, Floor, FX-S1, UB-S1; label set ``label``.

Annotation files (ROOT/annotations or ROOT), as released with FineGym v1.0/v1.1:
  gym99_categories.txt               "Clabel: 0; set: 1; Glabel: 1; (VT) round-off, flic-flac with 0.5 turn on, ..."
  gym99_train_element_v1.1.txt       "0LtLS9wROrk_E_002407_002435_A_0003_0005 0"  (sub-action id, Clabel)
  gym99_val_element.txt              same lines; split ``val``, the split FineGym and SEVERE report on
  finegym_annotation_info_v1.1.json  exact times; needed for layout=events and layout=full
(gym288_* for ``classes=gym288``; ``train_list=`` / ``val_list=`` name the list files if the names differ.)
A sub-action id is ``<youtube id>_E_<event start>_<event end>_A_<action start>_<action end>``: the event's whole
seconds in the YouTube video, the action's whole seconds within the event. The annotation info JSON maps
youtube id -> "E_<..>_<..>" -> {"timestamps": [[event start, end]] (s, in the video), "segments": {"A_<..>_<..>":
{"timestamps": [[start, end], ...] (s, within the event, one pair per stage)}}}; an action spans its first
stage's start to its last stage's end (as FineGym's own trimming does).

Videos (ROOT/subactions, ROOT/videos or ROOT; any sub-folder):
  layout=subactions  one clip per sub-action, ``<sub-action id>.<suffix>`` (no times)
  layout=events      one clip per event, ``<youtube id>_E_<start>_<end>.<suffix>``; start/end within the event
  layout=full        the YouTube video ``<youtube id>.<suffix>``; start/end = event start + action times

Class names are the category text with its event tag ("(FX) switch leap with 0.5 turn": Floor and Beam share
element names); class order is Clabel order. ``subset`` keeps the SEVERE granularity subsets (Thoker 2023, Ch. 4.5
and App. B): vault = the Vault (VT) classes (6 in Gym99), floor = the Floor Exercise (FX) classes (35), fx_s1 =
set 21, Floor "leaps, jumps and hops" (11), ub_s1 = set 41, Uneven Bars "circles" (15). The thesis names these
sets but not their ids; the ids are those of gym99_categories.txt, and the class counts match the thesis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, Option, VideoResolver,
                                      annotation_folder, check_segment, find_annotation, load_json, numbered_lines,
                                      parse_int)
from vssl.data.manifest import Sample

ANNOTATION_FOLDERS = ("annotations",)
VIDEO_FOLDERS = ("subactions", "videos")
OPTIONS = {
    "classes": Option("gym99", "element label set", ("gym99", "gym288")),
    "subset": Option("all", "SEVERE subset of the classes", ("all", "vault", "floor", "fx_s1", "ub_s1")),
    "layout": Option("subactions", "one clip per sub-action, per event, or full YouTube videos plus times",
                     ("subactions", "events", "full")),
    "train_list": Option("", "train list file name (default: the one <classes>_train*.txt)"),
    "val_list": Option("", "validation list file name (default: the one <classes>_val*.txt)"),
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}
CATEGORY_LINE = re.compile(r"Clabel:\s*(\d+);\s*set:\s*(\d+);\s*Glabel:\s*(\d+);\s*(\((\w+)\)\s*\S.*)")
SUBACTION_ID = re.compile(r"(?P<video>.+)_(?P<event>E_\d+_\d+)_(?P<action>A_\d+_\d+)")
SUBSETS = {  # SEVERE (Thoker 2023, App. B): which categories each granularity subset keeps
    "all": lambda category: True,
    "vault": lambda category: category.event == "VT",
    "floor": lambda category: category.event == "FX",
    "fx_s1": lambda category: category.set_id == 21,
    "ub_s1": lambda category: category.set_id == 41,
}


@dataclass(frozen=True)
class Category:
    """One element class of a FineGym categories file."""

    index: int  # Clabel
    set_id: int
    event: str  # VT, FX, BB or UB
    name: str  # "(VT) round-off, ..."


def read_categories(path: Path) -> list[Category]:
    categories = []
    for line_no, line in numbered_lines(path):
        match = CATEGORY_LINE.fullmatch(line)
        if match is None:
            raise VsslError(f"{path}:{line_no}: expected 'Clabel: <n>; set: <n>; Glabel: <n>; (<event>) <name>', "
                            f"got {line!r}")
        if int(match.group(1)) != len(categories):
            raise VsslError(f"{path}:{line_no}: expected Clabel {len(categories)}, got {match.group(1)}")
        categories.append(Category(int(match.group(1)), int(match.group(2)), match.group(5), match.group(4)))
    return categories


def list_file(folder: Path, option: str, pattern: str) -> Path:
    """The split list named by the option, else the one file matching ``pattern`` in ``folder``."""
    if option:
        return find_annotation(folder, option)
    matches = sorted(folder.glob(pattern))
    if len(matches) != 1:
        found = ", ".join(p.name for p in matches) or "none"
        raise VsslError(f"expected one file {pattern} in {folder}, found {found}; name it with the list option")
    return matches[0]


class ExactTimes:
    """Event and action times from finegym_annotation_info*.json."""

    def __init__(self, path: Path):
        self.path = path
        self.data = load_json(path)

    def event_and_action(self, video: str, event: str, action: str, where: str) -> tuple[float, float, float]:
        """(event start in the video, action start and end within the event), in seconds."""
        try:
            event_info = self.data[video][event]
            event_start = float(event_info["timestamps"][0][0])
            stages = (event_info.get("segments") or {})[action]["timestamps"]
            return event_start, float(stages[0][0]), float(stages[-1][1])
        except (KeyError, IndexError, TypeError, ValueError):
            raise VsslError(f"{where}: no times for {video} {event} {action} in {self.path}") from None


def _exact_times(folder: Path) -> ExactTimes:
    matches = sorted(folder.glob("finegym_annotation_info*.json"))
    if not matches:
        raise VsslError(f"layout=events and layout=full need finegym_annotation_info*.json in {folder} "
                        "(sub-action ids carry whole seconds only)")
    return ExactTimes(matches[-1])  # the newest version: v1.1 sorts after v1.0


def read_list(path: Path, split: str, classes: dict[int, str], layout: str, times: ExactTimes | None,
              videos: VideoResolver, category_count: int) -> list[Sample]:
    samples = []
    for line_no, line in numbered_lines(path):
        where = f"{path}:{line_no}"
        parts = line.split()
        match = SUBACTION_ID.fullmatch(parts[0]) if len(parts) == 2 else None
        if match is None:
            raise VsslError(f"{where}: expected '<youtube id>_E_<start>_<end>_A_<start>_<end> <class>', got {line!r}")
        label = parse_int(parts[1], where, "class")
        if not 0 <= label < category_count:
            raise VsslError(f"{where}: class {label} is not in the categories file (0..{category_count - 1})")
        if label not in classes:  # outside the chosen subset
            continue
        found = _video_and_segment(match, layout, times, videos, where)
        if found is not None:
            video, start, end = found
            samples.append(Sample(video, split, {"label": classes[label]}, start, end))
    return samples


def _video_and_segment(match: re.Match, layout: str, times: ExactTimes | None, videos: VideoResolver,
                       where: str) -> tuple[str, float | None, float | None] | None:
    """(video path, start, end) of one sub-action in the chosen layout; None when its video is missing."""
    video, event, action = match.group("video"), match.group("event"), match.group("action")
    if layout == "subactions":
        path = videos.video_by_name(match.group(0), where)
        return None if path is None else (path, None, None)
    event_start, action_start, action_end = times.event_and_action(video, event, action, where)
    check_segment(action_start, action_end, where)
    if layout == "events":
        path = videos.video_by_name(f"{video}_{event}", where)
        return None if path is None else (path, action_start, action_end)
    path = videos.video_by_name(video, where)
    return None if path is None else (path, event_start + action_start, event_start + action_end)


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    label_set = options["classes"]
    categories = read_categories(find_annotation(root, f"{label_set}_categories.txt", ANNOTATION_FOLDERS))
    keep = SUBSETS[options["subset"]]
    classes = {c.index: c.name for c in categories if keep(c)}
    folder = annotation_folder(root, ANNOTATION_FOLDERS)
    times = None if options["layout"] == "subactions" else _exact_times(folder)
    samples = []
    for split, option, pattern in (("train", "train_list", f"{label_set}_train*.txt"),
                                   ("val", "val_list", f"{label_set}_val*.txt")):
        samples.extend(read_list(list_file(folder, options[option], pattern), split, classes, options["layout"],
                                 times, videos, len(categories)))
    return Imported(samples, {"label": list(classes.values())}, train_split="train", test_split="val")
