"""Something-Something v2: the official label and split JSON files; label set ``label`` (174 templates).

Layout (annotation files in ROOT/labels, ROOT/annotations or ROOT; videos in ROOT/20bn-something-something-v2,
ROOT/videos or ROOT):
  something-something-v2-labels.json      {"Approaching something with your camera": "0", ...}  (template -> id)
  something-something-v2-train.json       [{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
                                            "template": "Holding [something] next to [something]",
                                            "placeholders": ["potato", "vicks vaporub bottle"]}, ...]
  something-something-v2-validation.json  same entries (split ``val``, the split papers report on)
  something-something-v2-test.json        [{"id": "1420"}, ...]  optional; split ``test`` without labels
  <id>.webm
A template's class is the template with its brackets dropped ("[something]" -> "something", "[Something]" ->
"Something", "[number of]" -> "number of"), which is how the labels file spells it. Class order is label id
order. Horizontal flips are unsafe: "Pushing something from left to right" becomes another class.
"""

from __future__ import annotations

from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, VideoResolver, find_annotation,
                                      find_optional_annotation, json_list_entries, line_of, load_json)
from vssl.data.manifest import Sample

ANNOTATION_FOLDERS = ("labels", "annotations")
VIDEO_FOLDERS = ("20bn-something-something-v2", "videos")
OPTIONS = {"videos": VIDEOS_OPTION, "missing": MISSING_OPTION}
PREFIX = "something-something-v2-"
SPLIT_FILES = {"train": "train", "val": "validation", "test": "test"}


def template_class(template: str) -> str:
    """The class name of a template: its placeholders without brackets."""
    return template.replace("[", "").replace("]", "")


def read_labels(path: Path) -> list[str]:
    """Class names in label id order; ids must be 0..N-1."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise VsslError(f"{path}: expected a JSON object mapping each template to its label id")
    text = path.read_text(encoding="utf-8-sig")
    by_id = {}
    for name, value in data.items():
        where = f"{path}:{line_of(text, name)}"
        if not str(value).isdigit():
            raise VsslError(f"{where}: label id of {name!r} must be a non-negative integer, got {value!r}")
        if int(value) in by_id:
            raise VsslError(f"{where}: label id {value} is used twice ({by_id[int(value)]!r}, {name!r})")
        by_id[int(value)] = name
    if sorted(by_id) != list(range(len(by_id))):
        raise VsslError(f"{path}: label ids must be 0..{len(by_id) - 1} without gaps")
    return [by_id[i] for i in range(len(by_id))]


def read_split(path: Path, split: str, classes: set[str], videos: VideoResolver) -> list[Sample]:
    samples = []
    for line, entry in json_list_entries(path):
        where = f"{path}:{line}"
        if not isinstance(entry, dict) or not str(entry.get("id", "")).strip():
            raise VsslError(f"{where}: expected an entry with an 'id', got {entry!r}")
        labels = {}
        if split != "test":
            template = entry.get("template")
            if not isinstance(template, str):
                raise VsslError(f"{where}: entry {entry['id']} has no 'template'")
            if template_class(template) not in classes:
                raise VsslError(f"{where}: template {template!r} of entry {entry['id']} is not in the labels file")
            labels["label"] = template_class(template)
        video = videos.video(f"{str(entry['id']).strip()}.webm", where)
        if video is not None:
            samples.append(Sample(video, split, labels))
    return samples


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    classes = read_labels(find_annotation(root, PREFIX + "labels.json", ANNOTATION_FOLDERS))
    samples = []
    for split, name in SPLIT_FILES.items():
        find = find_optional_annotation if split == "test" else find_annotation  # the unlabelled test is optional
        path = find(root, f"{PREFIX}{name}.json", ANNOTATION_FOLDERS)
        if path is not None:
            samples.extend(read_split(path, split, set(classes), videos))
    return Imported(samples, {"label": classes}, train_split="train", test_split="val", horizontal_flip=False)
