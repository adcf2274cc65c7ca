"""HMDB51: the official three splits (testTrainMulti_7030_splits/<class>_test_split<N>.txt); label set ``label``.

Layout as the official archives unpack (either folder may also be ROOT itself):
  ROOT/testTrainMulti_7030_splits/brush_hair_test_split1.txt   "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1"
  ROOT/hmdb51_org/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi
Each split file lists every video of its class once with a mark: 1 = train, 2 = test, 0 = not used in this
split (those videos are left out of the manifest). Classes are the split files' class names in sorted order,
the order the dataset's tools and papers index them.
"""

from __future__ import annotations

import re
from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, THREE_FOLDS_OPTION, VIDEOS_OPTION, Imported, VideoResolver,
                                      annotation_folder, numbered_lines)
from vssl.data.manifest import Sample

ANNOTATION_FOLDERS = ("testTrainMulti_7030_splits",)
VIDEO_FOLDERS = ("hmdb51_org", "hmdb51")
OPTIONS = {
    "fold": THREE_FOLDS_OPTION,
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}
SPLIT_OF_MARK = {"1": "train", "2": "test"}  # "0": not in this split


def split_files(folder: Path, fold: str) -> dict[str, Path]:
    """Class name -> its split file for ``fold``, sorted by class name."""
    pattern = re.compile(rf"(.+)_test_split{fold}\.txt")
    found = {}
    for path in folder.iterdir():
        match = pattern.fullmatch(path.name)
        if match:
            found[match.group(1)] = path
    if not found:
        raise VsslError(f"no HMDB51 split files '<class>_test_split{fold}.txt' in {folder}")
    return dict(sorted(found.items()))


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    files = split_files(annotation_folder(root, ANNOTATION_FOLDERS), options["fold"])
    samples = []
    for label, split_file in files.items():
        for line_no, line in numbered_lines(split_file):
            where = f"{split_file}:{line_no}"
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise VsslError(f"{where}: expected '<video> <0|1|2>', got {line!r}")
            video, mark = parts
            if mark == "0":
                continue
            path = videos.video(f"{label}/{video}", where)
            if path is not None:
                samples.append(Sample(path, SPLIT_OF_MARK[mark], {"label": label}))
    return Imported(samples, {"label": list(files)}, train_split="train", test_split="test")
