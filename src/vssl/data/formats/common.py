"""Helpers shared by the dataset adapters: options, line-numbered parsing errors, video lookup, the sidecar."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from vssl.core.errors import VsslError
from vssl.core.io import write_json_atomic
from vssl.data.manifest import Sample, class_names

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")
MISSING_POLICIES = ("error", "skip")


@dataclass(frozen=True)
class Option:
    """One ``key=value`` import option: its default (a string, as typed on the command line) and allowed values."""

    default: str
    help: str
    choices: tuple[str, ...] | None = None


# Every adapter that reads a list of videos takes these two.
VIDEOS_OPTION = Option("", "video folder (absolute, or relative to ROOT); default: the dataset's usual folder")
THREE_FOLDS_OPTION = Option("1", "official train/test split", ("1", "2", "3"))  # UCF101, HMDB51
MISSING_OPTION = Option("error", "a listed video that is not on disk: 'error' stops the import, 'skip' leaves it "
                        "out and counts it", MISSING_POLICIES)


@dataclass
class Imported:
    """What an adapter returns: the samples and what the sidecar says about them."""

    samples: list[Sample]
    classes: dict[str, list[str]]
    train_split: str | None
    test_split: str | None
    horizontal_flip: bool = True
    pairs: list | None = None  # ASLAN: the same/not-same pairs, written next to the manifest


@dataclass
class DatasetInfo:
    """The sidecar of an imported manifest: where it came from and how to use its labels."""

    format: str
    classes: dict[str, list[str]]  # label set -> class names in the dataset's official order
    horizontal_flip: bool  # False where a mirrored video changes its label (Something-Something v2)
    options: dict[str, str]
    splits: dict[str, int] = field(default_factory=dict)  # samples per split
    train_split: str | None = None
    test_split: str | None = None  # the split to report on ('val' where the test labels are withheld)
    root: str = ""
    skipped_missing: int = 0  # listed videos not on disk, left out by missing=skip
    files: dict[str, str] = field(default_factory=dict)  # further sidecar files, relative to the manifest


def dataset_info_path(manifest: str | os.PathLike) -> Path:
    """The sidecar of ``<folder>/<name>.csv`` is ``<folder>/<name>.dataset.json``."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.stem + ".dataset.json")


def write_dataset_info(info: DatasetInfo, manifest: str | os.PathLike) -> Path:
    path = dataset_info_path(manifest)
    write_json_atomic(path, asdict(info), trailing_newline=True)
    return path


def read_dataset_info(manifest: str | os.PathLike) -> DatasetInfo | None:
    """The sidecar written by ``import_dataset`` next to ``manifest``, or None for a manifest without one."""
    path = dataset_info_path(manifest)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return DatasetInfo(**data)
    except (json.JSONDecodeError, TypeError) as e:
        raise VsslError(f"{path}: not a dataset sidecar ({e})") from None


def horizontal_flip_allowed(manifest: str | os.PathLike) -> bool:
    """Whether clips of ``manifest`` may be mirrored: not where its sidecar says a mirror changes the label (SSv2).
    The one rule for pre-training (``data.flip`` and a method's own flips) and fine-tuning."""
    info = read_dataset_info(manifest)
    return info is None or info.horizontal_flip


def class_order(manifest: str | os.PathLike, samples: list[Sample], label_set: str) -> list[str]:
    """Class names of ``label_set`` in index order: the dataset's official order from the sidecar when it lists the
    label set (e.g. UCF101's classInd.txt), else the samples' class names sorted."""
    return official_order(manifest, class_names(samples, label_set), label_set)


def official_order(manifest: str | os.PathLike, names: list[str], label_set: str) -> list[str]:
    """The sidecar's class list of ``label_set`` when it has one (refusing a name it lacks), else ``names``."""
    info = read_dataset_info(manifest)
    official = (info.classes if info is not None else {}).get(label_set)
    if not official:
        return names
    unknown = sorted(set(names) - set(official))
    if unknown:
        raise VsslError(f"{dataset_info_path(manifest)}: class '{unknown[0]}' of label set '{label_set}' is not in "
                        f"the sidecar's class list ({len(official)} classes)")
    return list(official)


def check_test_classes(train: list[Sample], test: list[Sample], label_set: str, classes: list[str],
                       train_split: str, test_split: str) -> None:
    """Refuse a class of ``label_set`` that has test samples but no training sample: no protocol can learn it, and
    without a sidecar it would silently become one more class. Names it with its index in ``classes`` (the
    evaluation's numbering, :func:`class_order`)."""
    trained = {s.labels.get(label_set) for s in train}
    unseen = sorted({s.labels[label_set] for s in test if s.labels.get(label_set) not in trained},
                    key=classes.index)
    if unseen:
        name = unseen[0]
        raise VsslError(f"label set '{label_set}': class {classes.index(name)} '{name}' occurs only in split "
                        f"'{test_split}', not in training split '{train_split}'"
                        + (f" ({len(unseen) - 1} more such class(es))" if len(unseen) > 1 else ""))


# ---------------------------------------------------------------------------------------------------------------
# Annotation files


def find_optional_annotation(root: Path, name: str, folders: tuple[str, ...] = ()) -> Path | None:
    """``name`` in the first of ``root/folder`` (for each folder) and ``root`` that has it, else None."""
    for place in [root / folder for folder in folders] + [root]:
        if (place / name).is_file():
            return place / name
    return None


def find_annotation(root: Path, name: str, folders: tuple[str, ...] = ()) -> Path:
    """Like :func:`find_optional_annotation`, raising when the file is in none of the places."""
    path = find_optional_annotation(root, name, folders)
    if path is None:
        places = [root / folder for folder in folders] + [root]
        raise VsslError(f"annotation file '{name}' not found (looked in {', '.join(str(p) for p in places)})")
    return path


def annotation_folder(root: Path, folders: tuple[str, ...]) -> Path:
    """The first of ``root/folder`` that exists, else ``root``."""
    for folder in folders:
        if (root / folder).is_dir():
            return root / folder
    return root


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines; a UTF-8 BOM and CRLF endings are accepted."""
    with open(path, encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, 1):
            text = line.strip()
            if text:
                yield line_no, text


def load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise VsslError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None


def json_list_entries(path: Path) -> list[tuple[int, object]]:
    """The entries of a JSON file holding one list, each with the line it starts on (for error messages)."""
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    whitespace = re.compile(r"\s*")
    position = whitespace.match(text, 0).end()
    if not text.startswith("[", position):
        raise VsslError(f"{path}: expected a JSON list of entries")
    entries = []
    line, counted_to = 1, 0
    position = whitespace.match(text, position + 1).end()
    while not text.startswith("]", position):
        line += text.count("\n", counted_to, position)
        counted_to = position
        try:
            entry, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as e:
            raise VsslError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
        entries.append((line, entry))
        position = whitespace.match(text, position).end()
        if text.startswith(",", position):
            position = whitespace.match(text, position + 1).end()
        elif not text.startswith("]", position):
            line += text.count("\n", counted_to, position)
            raise VsslError(f"{path}:{line}: invalid JSON (expected ',' or ']' after an entry)")
    return entries


def line_of(text: str, needle: str) -> int:
    """Line number of the first occurrence of ``needle`` in ``text`` (1 if absent)."""
    index = text.find(needle)
    return 1 if index < 0 else text.count("\n", 0, index) + 1


def parse_int(value, where: str, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise VsslError(f"{where}: {what} must be an integer, got {value!r}") from None


def parse_seconds(value, where: str, what: str) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise VsslError(f"{where}: {what} must be a number of seconds, got {value!r}") from None


def check_segment(start: float, end: float, where: str) -> None:
    if not end > start:
        raise VsslError(f"{where}: segment end ({end}) must be after its start ({start})")


# ---------------------------------------------------------------------------------------------------------------
# Videos


def _without_video_suffix(relative: str) -> str:
    path = PurePosixPath(relative.replace("\\", "/"))
    return str(path.with_suffix("")) if path.suffix.lower() in VIDEO_SUFFIXES else str(path)


class VideoFolder:
    """The video files below one folder, listed once; a video is found by its relative path or file name with or
    without its suffix, so a dataset re-encoded from .avi to .mp4 still matches its annotation files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._by_relative: dict[str, list[Path]] | None = None
        self._by_name: dict[str, list[Path]] | None = None

    def _list(self) -> None:
        if not self.folder.is_dir():
            raise VsslError(f"video folder not found: {self.folder} (pass videos=FOLDER)")
        self._by_relative, self._by_name = {}, {}
        for directory, subdirectories, files in os.walk(self.folder, followlinks=True):  # datasets are often linked
            subdirectories.sort()
            for name in sorted(files):
                if Path(name).suffix.lower() in VIDEO_SUFFIXES and not name.startswith("."):
                    path = Path(directory) / name
                    relative = path.relative_to(self.folder).as_posix()
                    self._by_relative.setdefault(_without_video_suffix(relative), []).append(path)
                    self._by_name.setdefault(Path(name).stem, []).append(path)

    def find(self, relative: str) -> Path | None:
        """The video at ``relative`` (the listed suffix preferred, else any video suffix), or None."""
        if self._by_relative is None:
            self._list()
        return _preferred(self._by_relative.get(_without_video_suffix(relative), []), relative)

    def find_by_name(self, stem: str) -> Path | None:
        """The first video anywhere below the folder named ``stem``.* (folders walked top-down, names sorted)."""
        if self._by_name is None:
            self._list()
        candidates = self._by_name.get(stem, [])
        return candidates[0] if candidates else None

    def all_videos(self) -> list[Path]:
        """Every video file below the folder, in sorted path order."""
        if self._by_relative is None:
            self._list()
        return sorted(path for paths in self._by_relative.values() for path in paths)


def _preferred(candidates: list[Path], relative: str) -> Path | None:
    wanted_name = PurePosixPath(relative).name
    for path in candidates:
        if path.name == wanted_name:
            return path
    return candidates[0] if candidates else None


class VideoResolver:
    """Finds listed videos in the video folder and remembers the missing ones, which then stop the import
    (missing=error, the default) or are left out and counted (missing=skip)."""

    def __init__(self, folder: Path, missing: str = "error"):
        self.folder = VideoFolder(folder)
        self.missing_policy = missing
        self.missing: list[tuple[str, str]] = []  # (where it is listed, what was looked for)

    @property
    def root(self) -> Path:
        return self.folder.folder

    def video(self, relative: str, where: str) -> str | None:
        """Path of the video listed at ``where``, or None (and noted) when it is not on disk."""
        return self._found(self.folder.find(relative), relative, where)

    def video_by_name(self, stem: str, where: str) -> str | None:
        return self._found(self.folder.find_by_name(stem), f"**/{stem}.*", where)

    def first_video(self, candidates: list[str], where: str) -> str | None:
        """The first of several relative paths that exists (e.g. alternative layouts), or None."""
        for relative in candidates:
            path = self.folder.find(relative)
            if path is not None:
                return str(path)
        return self._found(None, " or ".join(candidates), where)

    def directory(self, relative: str, where: str) -> str | None:
        path = self.root / relative
        return self._found(path if path.is_dir() else None, relative + "/", where)

    def _found(self, path: Path | None, looked_for: str, where: str) -> str | None:
        if path is None:
            self.missing.append((where, looked_for))
            return None
        return str(path)

    def finish(self) -> int:
        """Raise for missing videos (missing=error), else report and return how many were skipped."""
        if not self.missing:
            return 0
        where, looked_for = self.missing[0]
        if self.missing_policy == "error":
            more = len(self.missing) - 1
            raise VsslError(f"{where}: video not found: {looked_for} in {self.root}"
                            + (f" ({more} more listed videos are missing too)" if more else "")
                            + "; pass missing=skip to import without them")
        print(f"skipped {len(self.missing)} listed video(s) not found in {self.root} (first: {where}: {looked_for})")
        return len(self.missing)


def resolve_video_folder(root: Path, option: str, usual_folders: tuple[str, ...]) -> Path:
    """The ``videos=`` option (relative to root), else the first usual folder that exists, else root."""
    if option:
        folder = Path(option).expanduser()
        return folder if folder.is_absolute() else root / folder
    return annotation_folder(root, usual_folders)


def manifest_relative(path: str, manifest_folder: Path) -> str:
    """A path as ``write_manifest`` stores it: relative to the manifest's folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(manifest_folder.resolve()))
    except ValueError:
        return path
