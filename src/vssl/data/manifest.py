"""Dataset manifests: one row per video (or segment) with path, split, optional times and label sets.

A manifest is a CSV or JSONL file. Columns / keys (``path`` and ``split`` required; checked when read):
  path   video file or frame directory, absolute or relative to the manifest's folder
  split  e.g. pretrain, train, test
  start, end   optional segment bounds in seconds (empty = whole video)
  any other column is a label set (e.g. ``label``, or ``motion`` and ``appearance``).
JSONL rows may instead carry the label sets under a ``labels`` object.
A multi-label set (several classes per video, e.g. Charades' actions) joins a video's classes with ``;`` in class
order, and leaves the value empty for a video without any (see :func:`label_list`).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.core.io import atomic_open

RESERVED_COLUMNS = ("path", "split", "start", "end")
REQUIRED_COLUMNS = ("path", "split")
LABEL_SEPARATOR = ";"  # between the classes of a multi-label set
DEPTH_COLUMN = "depth"  # a video's depth video (vssl.data.modality), relative to the manifest's folder or absolute


def check_columns(columns, where: str, kind: str = "column") -> None:
    """Raise naming the first required column (``path``, ``split``) that ``columns`` lacks, and ``where``."""
    columns = list(columns or [])
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise VsslError(f"{where}: manifest needs a '{name}' {kind} (has: {', '.join(map(str, columns)) or 'none'})")


@dataclass
class Sample:
    """One video or segment of a dataset."""

    path: str
    split: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    start: float | None = None
    end: float | None = None


def _parse_time(value, where: str, key: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise VsslError(f"{where}: column '{key}' must be a number of seconds, got {value!r}") from None


def _sample_from_row(row: dict, root: Path, where: str) -> Sample:
    if not row.get("path"):
        raise VsslError(f"{where}: missing 'path'")
    path = str(row["path"])
    if not os.path.isabs(path):
        path = str(root / path)
    labels = dict(row.get("labels") or {})
    for key, value in row.items():
        if key not in RESERVED_COLUMNS and key != "labels" and value not in (None, ""):
            labels[key] = str(value)
    start = _parse_time(row.get("start"), where, "start")
    end = _parse_time(row.get("end"), where, "end")
    if start is not None and end is not None and end <= start:
        raise VsslError(f"{where}: end ({end}) must be after start ({start})")
    return Sample(path=path, split=str(row.get("split") or ""), labels={k: str(v) for k, v in labels.items()},
                  start=start, end=end)


def read_manifest(path: str | os.PathLike, split: str | None = None) -> list[Sample]:
    """Read a CSV or JSONL manifest; relative paths resolve against the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise VsslError(f"manifest not found: {path}")
    root = path.parent
    samples: list[Sample] = []
    if path.suffix == ".jsonl":
        rows = []
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rows.append((line_no, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise VsslError(f"{path}:{line_no}: invalid JSON ({e.msg})") from None
        for line_no, row in rows:  # syntax first, then structure
            if not isinstance(row, dict):
                raise VsslError(f"{path}:{line_no}: a manifest row must be a JSON object, got {row!r}")
            check_columns(row, f"{path}:{line_no}", "key")
            samples.append(_sample_from_row(row, root, f"{path}:{line_no}"))
    elif path.suffix == ".csv":
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            check_columns(reader.fieldnames, str(path))
            for line_no, row in enumerate(reader, 2):
                samples.append(_sample_from_row(row, root, f"{path}:{line_no}"))
    else:
        raise VsslError(f"{path}: manifest must be .csv or .jsonl")
    if split is not None:
        samples = [s for s in samples if s.split == split]
    return samples


def write_manifest(samples: list[Sample], path: str | os.PathLike) -> None:
    """Write samples as CSV or JSONL (by suffix), atomically; paths are stored relative when inside the folder."""
    path = Path(path)
    root = path.parent.resolve()

    def rel(p: str) -> str:
        try:
            return str(Path(p).resolve().relative_to(root))
        except ValueError:
            return p

    label_keys = sorted({k for s in samples for k in s.labels})
    with atomic_open(path, "w", newline="") as f:
        if path.suffix == ".jsonl":
            for s in samples:
                row = {"path": rel(s.path), "split": s.split, "labels": s.labels}
                if s.start is not None:
                    row["start"] = s.start
                if s.end is not None:
                    row["end"] = s.end
                f.write(json.dumps(row) + "\n")
        else:
            writer = csv.writer(f)
            writer.writerow([*RESERVED_COLUMNS, *label_keys])
            for s in samples:
                writer.writerow([rel(s.path), s.split, "" if s.start is None else s.start,
                                 "" if s.end is None else s.end, *(s.labels.get(k, "") for k in label_keys)])


def join_labels(classes: list[str]) -> str:
    """A multi-label set's value: its classes joined by ``;`` ("" for none), e.g. "c092;c147"."""
    return LABEL_SEPARATOR.join(classes)


def label_list(sample: Sample, label_set: str) -> list[str]:
    """The classes of a multi-label set (:func:`join_labels`); a sample without a value has none."""
    value = sample.labels.get(label_set, "")
    return value.split(LABEL_SEPARATOR) if value else []


def class_names(samples: list[Sample], label_set: str) -> list[str]:
    """Sorted class names of one label set; raises naming the label set if a sample lacks it."""
    names = set()
    for s in samples:
        if label_set not in s.labels:
            raise VsslError(f"{s.path}: no label '{label_set}' (has: {', '.join(sorted(s.labels)) or 'none'})")
        names.add(s.labels[label_set])
    return sorted(names)
