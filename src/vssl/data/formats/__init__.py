"""Dataset adapters: read a public dataset's official annotation files and write a vssl manifest and its sidecar.

``import_dataset("ucf101", "/data/UCF101", "ucf101_fold1.csv", fold="1")`` writes
  ucf101_fold1.csv             the manifest (video paths relative to its folder when inside it)
  ucf101_fold1.dataset.json    the sidecar: format, official class order per label set, samples per split,
                               which splits to train and report on, whether horizontal flips keep labels, options
  ucf101_fold1.pairs.csv       ASLAN only: the same/not-same pairs of the 10 folds
Options are ``key=value`` strings as typed on the command line; each format lists its own (``describe_format``).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from vssl.core.errors import VsslError
from vssl.data.formats import (aslan, charades, diving48, epic_kitchens, finegym, hmdb51, kinetics, ntu, repetition,
                               ssv2, ucf101, yupenn)
from vssl.data.formats.aslan import Pair, pair_indices, pairs_path, read_pairs
from vssl.data.formats.common import (DatasetInfo, Option, VideoResolver, check_test_classes, class_order,
                                      dataset_info_path, horizontal_flip_allowed, read_dataset_info,
                                      resolve_video_folder, write_dataset_info)
from vssl.data.manifest import write_manifest

FORMATS = {
    "ucf101": ucf101,
    "hmdb51": hmdb51,
    "kinetics": kinetics,
    "ssv2": ssv2,
    "diving48": diving48,
    "finegym": finegym,
    "ntu": ntu,
    "epic_kitchens": epic_kitchens,
    "yupenn": yupenn,
    "aslan": aslan,
    "charades": charades,
    # two formats of one module: an adapter is anything with a docstring, OPTIONS, VIDEO_FOLDERS and load()
    "ucfrep": SimpleNamespace(__doc__="UCFRep repetition counts (Zhang et al. 2020; SEVERE's UCF-RC, Thoker 2023 "
                                      "Ch. 4): ucf526/annotations/{train,val}/*.mat over UCF101's videos.",
                              OPTIONS=repetition.UCFREP_OPTIONS, VIDEO_FOLDERS=repetition.UCFREP_VIDEO_FOLDERS,
                              load=repetition.load_ucfrep),
    "countix": SimpleNamespace(__doc__="Countix repetition counts (Dwibedi et al. 2020): annotations/countix_<split>"
                                       ".csv over Kinetics clips or whole YouTube videos.",
                               OPTIONS=repetition.COUNTIX_OPTIONS, VIDEO_FOLDERS=repetition.COUNTIX_VIDEO_FOLDERS,
                               load=repetition.load_countix),
}

__all__ = ["FORMATS", "DatasetInfo", "Pair", "check_test_classes", "class_order", "dataset_info_path", "describe_format",
           "horizontal_flip_allowed", "import_dataset", "list_formats", "pair_indices", "pairs_path",
           "read_dataset_info", "read_pairs"]


def list_formats() -> list[str]:
    return sorted(FORMATS)


def _adapter(format: str):
    if format not in FORMATS:
        raise VsslError(f"unknown dataset format '{format}' (formats: {', '.join(list_formats())})")
    return FORMATS[format]


def describe_format(format: str) -> str:
    """The adapter's one-line summary and its options with defaults and allowed values."""
    adapter = _adapter(format)
    lines = [f"{format}: {adapter.__doc__.strip().splitlines()[0]}"]
    for key, option in adapter.OPTIONS.items():
        allowed = f" ({'|'.join(option.choices)})" if option.choices else ""
        lines.append(f"  {key}={option.default}{allowed}  {option.help}")
    return "\n".join(lines)


def _checked_options(format: str, spec: dict[str, Option], given: dict) -> dict[str, str]:
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise VsslError(f"format '{format}': unknown option '{unknown[0]}' "
                        f"(options: {', '.join(spec) or 'none'})")
    values = {}
    for key, option in spec.items():
        value = str(given.get(key, option.default)).strip()
        if option.choices is not None and value not in option.choices:
            raise VsslError(f"format '{format}': option {key}={value!r} must be one of {', '.join(option.choices)}")
        values[key] = value
    return values


def import_dataset(format: str, root: str | os.PathLike, out: str | os.PathLike, **options) -> Path:
    """Read the dataset at ``root`` in ``format``; write the manifest ``out`` (.csv or .jsonl) and its sidecar
    ``<out stem>.dataset.json``; return ``out``."""
    adapter = _adapter(format)
    options = _checked_options(format, adapter.OPTIONS, options)
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise VsslError(f"dataset folder not found: {root}")
    if out.suffix not in (".csv", ".jsonl"):
        raise VsslError(f"{out}: the manifest must end in .csv or .jsonl")
    videos = VideoResolver(resolve_video_folder(root, options.get("videos", ""), adapter.VIDEO_FOLDERS),
                           options.get("missing", "error"))
    imported = adapter.load(root, options, videos)
    skipped = videos.finish()
    if not imported.samples:
        raise VsslError(f"{root}: no videos found for format '{format}'")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(imported.samples, out)
    files = {}
    if imported.pairs is not None:
        files["pairs"] = aslan.write_pairs(imported.pairs, out).name
    info = DatasetInfo(format=format, classes=imported.classes, horizontal_flip=imported.horizontal_flip,
                       options=options, splits=dict(sorted(Counter(s.split for s in imported.samples).items())),
                       train_split=imported.train_split, test_split=imported.test_split,
                       root=str(root.resolve()), skipped_missing=skipped, files=files)
    write_dataset_info(info, out)
    return out
