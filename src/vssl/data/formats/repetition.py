"""Repetition-counting annotations (UCFRep, Zhang et al. 2020; Countix, Dwibedi et al. 2020) → counted samples."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, VIDEOS_OPTION, Imported, Option, VideoResolver,
                                      annotation_folder, check_segment, parse_int, parse_seconds)
from vssl.data.manifest import Sample

COUNT_LABEL = "count"  # the label set holding a video's number of repetitions, a positive integer written as text

# ---------------------------------------------------------------------------------------------------------------
# UCFRep (Zhang et al. 2020, the release of github.com/Xiaodomgdomg/Deep-Temporal-Repetition-Counting, which
# SEVERE's Repetition-Counting reuses): ROOT/ucf526/annotations/{train,val}/v_<Class>_gXX_cYY.mat, one MATLAB
# struct ``label`` per video with ``temporal_bound`` (N + 1 frame numbers, 1-based: repetition i runs from bound i to
# bound i + 1, so the count is N), ``start_frame`` and ``end_frame`` (the repeating segment, inclusive) and
# ``duration`` (its length in frames); per-frame offsets (``offset_*_estimate``) are not read. The videos are
# UCF101's ``<Class>/v_<Class>_gXX_cYY.avi``.

UCFREP_SPLITS = ("train", "val")
UCFREP_ANNOTATION_FOLDERS = ("ucf526/annotations", "annotations")
UCFREP_VIDEO_FOLDERS = ("UCF-101", "UCF101", "videos")
UCFREP_FIELDS = ("temporal_bound", "start_frame", "end_frame")
UCF101_FPS = "25"  # UCF101's fixed frame rate (Soomro et al. 2012): turns the annotated frame numbers into seconds
UCFREP_OPTIONS = {
    "fps": Option(UCF101_FPS, "frame rate that turns UCFRep's frame numbers into the manifest's start/end seconds"),
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}
UCF101_NAME = re.compile(r"v_(?P<label>.+)_g\d+_c\d+")


@dataclass(frozen=True)
class UcfRepVideo:
    """One UCFRep video: its name (file stem), split, repetition bounds (1-based frames) and repeating segment."""

    name: str
    split: str
    bounds: tuple[int, ...]
    start_frame: int
    end_frame: int

    @property
    def count(self) -> int:
        return len(self.bounds) - 1


def _frame_numbers(label: np.void, key: str, where: str, one: bool = False) -> list[int]:
    """The whole numbers of field ``key`` (exactly one with ``one``)."""
    try:
        values = np.asarray(label[key], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        values = np.array([np.nan])
    if values.size == 0 or (one and values.size != 1) or not np.all(values == np.round(values)):
        raise VsslError(f"{where}: label.{key} must hold {'one whole frame number' if one else 'whole frame numbers'},"
                        f" got {values.tolist()!r}")
    return [int(v) for v in values]


def read_ucfrep_annotation(path: str | Path, split: str) -> UcfRepVideo:
    """One ``<video>.mat`` of UCFRep; a VsslError names the file and the field at fault."""
    from scipy.io import loadmat  # reads MATLAB v5 files without unpickling anything
    from scipy.io.matlab import MatReadError

    path = Path(path)
    try:
        mat = loadmat(path)
    except (MatReadError, OSError, ValueError, NotImplementedError) as error:
        raise VsslError(f"{path}: not a readable MATLAB annotation file ({error})") from None
    label = mat.get("label")
    names = () if label is None or label.dtype.names is None else label.dtype.names
    missing = [key for key in UCFREP_FIELDS if key not in names]
    if label is None or label.size != 1 or missing:
        raise VsslError(f"{path}: expected a struct 'label' with {', '.join(UCFREP_FIELDS)}"
                        + (f" (missing: {', '.join(missing)})" if label is not None and missing else ""))
    label = label.ravel()[0]
    bounds = _frame_numbers(label, "temporal_bound", str(path))
    start, end = (_frame_numbers(label, key, str(path), one=True)[0] for key in ("start_frame", "end_frame"))
    if len(bounds) < 2 or bounds[0] < 1 or any(b <= a for a, b in zip(bounds, bounds[1:])):
        raise VsslError(f"{path}: label.temporal_bound must be at least 2 increasing frame numbers from 1, "
                        f"got {bounds}")
    if not 1 <= start <= bounds[0] or not bounds[-1] <= end:
        raise VsslError(f"{path}: the repetitions {bounds[0]}..{bounds[-1]} lie outside label.start_frame {start} "
                        f"to label.end_frame {end}")
    return UcfRepVideo(path.stem, split, tuple(bounds), start, end)


def read_ucfrep(root: str | Path) -> list[UcfRepVideo]:
    """Every annotated video of both splits, train then val, each in file-name order."""
    folder = annotation_folder(Path(root), UCFREP_ANNOTATION_FOLDERS)
    videos = []
    for split in UCFREP_SPLITS:
        if not (folder / split).is_dir():
            raise VsslError(f"UCFRep annotation folder not found: {folder / split}")
        videos.extend(read_ucfrep_annotation(path, split) for path in sorted((folder / split).glob("*.mat")))
    return videos


def ucfrep_sample(video: UcfRepVideo, path: str, fps: float) -> Sample:
    """The manifest row of ``video`` at ``path``: labels ``count`` and ``label`` (the UCF101 class), start/end the
    repeating segment in seconds (1-based frame f starts at (f − 1) / fps)."""
    match = UCF101_NAME.fullmatch(video.name)
    if match is None:
        raise VsslError(f"UCFRep video {video.name!r} ({video.split}): expected a UCF101 name v_<Class>_gXX_cYY")
    return Sample(path, video.split, {COUNT_LABEL: str(video.count), "label": match["label"]},
                  (video.start_frame - 1) / fps, video.end_frame / fps)


def load_ucfrep(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    """UCFRep as an import adapter (``UCFREP_OPTIONS``; ``fps`` defaults to UCF101's); trained on train, reported on
    val."""
    value = options.get("fps", UCFREP_OPTIONS["fps"].default)
    try:
        fps = float(value)
    except ValueError:
        fps = 0.0
    if not fps > 0:
        raise VsslError(f"UCFRep option fps={value!r}: expected a positive frame rate")
    samples = []
    for video in read_ucfrep(root):
        path = videos.video_by_name(video.name, f"{video.name}.mat ({video.split})")
        if path is not None:
            samples.append(ucfrep_sample(video, path, fps))
    return Imported(samples, {"label": sorted({s.labels["label"] for s in samples})}, train_split="train",
                    test_split="val")


# ---------------------------------------------------------------------------------------------------------------
# Countix (Dwibedi et al. 2020, sites.google.com/view/repnet): countix_{train,val,test}.csv with the header
# video_id,class,kinetics_start,kinetics_end,repetition_start,repetition_end,count — times in seconds of the
# YouTube video, the repeating segment inside the Kinetics clip; ``class`` (the Kinetics class) may be absent.
# Videos: layout=trimmed, the Kinetics clip <video_id>_<kinetics_start:06d>_<kinetics_end:06d>.<suffix> (times
# become relative to it); layout=full, the whole YouTube video <video_id>.<suffix>.

COUNTIX_COLUMNS = ("video_id", "kinetics_start", "kinetics_end", "repetition_start", "repetition_end", "count")
COUNTIX_SPLITS = ("train", "val", "test")
COUNTIX_ANNOTATION_FOLDERS = ("annotations",)
COUNTIX_VIDEO_FOLDERS = ("videos",)
COUNTIX_OPTIONS = {
    "layout": Option("trimmed", "one file per Kinetics clip (trimmed) or whole YouTube videos (full)",
                     ("trimmed", "full")),
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}


@dataclass(frozen=True)
class CountixRow:
    """One Countix row: the repeating segment [repetition_start, repetition_end] s of its Kinetics clip."""

    video_id: str
    action_class: str  # "" where the file has no class column
    kinetics_start: float
    kinetics_end: float
    repetition_start: float
    repetition_end: float
    count: int
    line: int  # where it is in its file, for messages


def read_countix_csv(path: str | Path) -> list[CountixRow]:
    """The rows of one Countix CSV; a VsslError names the file and line (or the missing column) at fault."""
    path = Path(path)
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [column for column in COUNTIX_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise VsslError(f"{path}: Countix needs the column '{missing[0]}' (has: "
                            f"{','.join(reader.fieldnames or []) or 'none'})")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or None in row.values():
                raise VsslError(f"{where}: expected the {len(reader.fieldnames)} columns {','.join(reader.fieldnames)}")
            times = [parse_seconds(row[key], where, key) for key in COUNTIX_COLUMNS[1:5]]
            check_segment(times[0], times[1], f"{where} (kinetics)")
            check_segment(times[2], times[3], f"{where} (repetition)")
            if not times[0] <= times[2] or not times[3] <= times[1]:
                raise VsslError(f"{where}: repetition segment [{times[2]}, {times[3]}] is not inside the Kinetics "
                                f"clip [{times[0]}, {times[1]}]")
            count = parse_int(row["count"], where, "count")
            if count < 1 or not row["video_id"].strip():
                raise VsslError(f"{where}: expected a video_id and a count >= 1, got {row['video_id']!r}, {count}")
            rows.append(CountixRow(row["video_id"].strip(), (row.get("class") or "").strip(), *times, count,
                                   reader.line_num))
    return rows


def countix_sample(row: CountixRow, split: str, layout: str, videos: VideoResolver, where: str) -> Sample | None:
    """The manifest row of one Countix row (None where its video is missing): ``count`` (and ``label``, the class)
    and the repeating segment in seconds of the video file."""
    labels = {COUNT_LABEL: str(row.count), **({"label": row.action_class} if row.action_class else {})}
    if layout == "full":
        path, offset = videos.video_by_name(row.video_id, where), 0.0
    else:
        name = f"{row.video_id}_{int(row.kinetics_start):06d}_{int(row.kinetics_end):06d}"
        path, offset = videos.video_by_name(name, where), row.kinetics_start
    if path is None:
        return None
    return Sample(path, split, labels, row.repetition_start - offset, row.repetition_end - offset)


def load_countix(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    """Countix as an import adapter (``COUNTIX_OPTIONS``): the CSVs of the splits present; trained on train, reported
    on val."""
    layout = options.get("layout", COUNTIX_OPTIONS["layout"].default)
    folder = annotation_folder(Path(root), COUNTIX_ANNOTATION_FOLDERS)
    files = {split: folder / f"countix_{split}.csv" for split in COUNTIX_SPLITS}
    if not any(path.is_file() for path in files.values()):
        raise VsslError(f"no Countix CSV (countix_train.csv, countix_val.csv, countix_test.csv) in {folder}")
    samples = []
    for split, path in files.items():
        if path.is_file():
            for row in read_countix_csv(path):
                sample = countix_sample(row, split, layout, videos, f"{path}:{row.line}")
                if sample is not None:
                    samples.append(sample)
    classes = sorted({s.labels["label"] for s in samples if "label" in s.labels})
    return Imported(samples, {"label": classes} if classes else {}, train_split="train", test_split="val")
