"""Temporal action annotations of untrimmed videos, for localization (Resnick et al. 2019; BSN, Lin et al. 2018).

Two official formats:
- ActivityNet JSON (ActivityNet v1.3, and the Gymnastics dataset of Resnick et al. 2019 in the same layout):
  ``{"database": {video: {"duration" or "duration_second": s, "fps": f (optional), "subset": "training" |
  "validation" | "testing", "annotations": [{"label": name, "segment": [start, end]}]}}}``, times in seconds.
- THUMOS14 temporal annotation files: one ``<Class>_val.txt`` / ``<Class>_test.txt`` per class, each line
  ``video_name start end`` in seconds. ``Ambiguous_*.txt`` marks segments the official evaluation ignores; they are
  left out.
Bad input raises a one-line VsslError naming the file and the entry or line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vssl.core.errors import VsslError

THUMOS_SPLITS = ("val", "test")
AMBIGUOUS = "Ambiguous"


@dataclass
class TemporalAnnotation:
    """One untrimmed video: its duration and fps when known, its subset, and its (start, end, label) segments."""

    subset: str
    duration: float | None = None
    fps: float | None = None
    segments: list[tuple[float, float, str]] = field(default_factory=list)


def _segment(start, end, where: str) -> tuple[float, float]:
    try:
        start, end = float(start), float(end)
    except (TypeError, ValueError):
        raise VsslError(f"{where}: segment times must be numbers, got {start!r} {end!r}") from None
    if not 0 <= start < end:
        raise VsslError(f"{where}: segment [{start}, {end}] must satisfy 0 <= start < end")
    return start, end


def read_activitynet_json(path: str | Path) -> dict[str, TemporalAnnotation]:
    """Every video of an ActivityNet-style JSON file (its ``database``)."""
    path = Path(path)
    try:
        database = json.loads(path.read_text())["database"]
    except FileNotFoundError:
        raise VsslError(f"{path}: file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise VsslError(f"{path}: not an ActivityNet annotation file (expected a 'database' object): {e}") from None
    videos = {}
    for video, entry in database.items():
        duration = entry.get("duration_second", entry.get("duration"))
        segments = []
        for k, item in enumerate(entry.get("annotations", [])):
            where = f"{path}: database.{video}.annotations[{k}]"
            if "segment" not in item or "label" not in item:
                raise VsslError(f"{where}: needs 'segment' and 'label'")
            segments.append((*_segment(*item["segment"], where), str(item["label"])))
        videos[video] = TemporalAnnotation(subset=str(entry.get("subset", "")),
                                           duration=None if duration is None else float(duration),
                                           fps=None if entry.get("fps") is None else float(entry["fps"]),
                                           segments=segments)
    return videos


def read_thumos14(folder: str | Path, split: str = "test") -> dict[str, TemporalAnnotation]:
    """The videos of THUMOS14's ``<Class>_<split>.txt`` files in ``folder`` (Ambiguous segments left out)."""
    if split not in THUMOS_SPLITS:
        raise VsslError(f"THUMOS14 split {split!r}: expected one of {', '.join(THUMOS_SPLITS)}")
    folder = Path(folder)
    files = sorted(folder.glob(f"*_{split}.txt"))
    if not files:
        raise VsslError(f"{folder}: no THUMOS14 annotation files '<Class>_{split}.txt'")
    videos: dict[str, TemporalAnnotation] = {}
    for file in files:
        label = file.name[: -len(f"_{split}.txt")]
        if label == AMBIGUOUS:
            continue
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise VsslError(f"{file}:{number}: expected 'video start end', got {line.strip()!r}")
            start, end = _segment(fields[1], fields[2], f"{file}:{number}")
            videos.setdefault(fields[0], TemporalAnnotation(subset=split)).segments.append((start, end, label))
    return videos


def ground_truth(annotations: dict[str, TemporalAnnotation], subset: str | None = None) -> dict[str, np.ndarray]:
    """video → segments [G, 2] of the videos in ``subset`` (all when None) that have any."""
    return {video: np.array([(s, e) for s, e, _ in entry.segments], dtype=np.float64)
            for video, entry in annotations.items()
            if entry.segments and (subset is None or entry.subset == subset)}
