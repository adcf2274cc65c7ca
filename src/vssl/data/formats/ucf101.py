"""UCF101: the official three train/test splits (classInd.txt, trainlist0N.txt, testlist0N.txt); label set ``label``.

Layout as the official archives unpack (either folder may also be ROOT itself):
  ROOT/ucfTrainTestlist/classInd.txt        "1 ApplyEyeMakeup" (1-based index, class name)
  ROOT/ucfTrainTestlist/trainlist01.txt     "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
  ROOT/ucfTrainTestlist/testlist01.txt      "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi" (label = folder name)
  ROOT/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi
Class order is classInd order. The class folder of a train line must match its class index (case aside).
"""

from __future__ import annotations

from pathlib import Path

from vssl.core.errors import VsslError
from vssl.data.formats.common import (MISSING_OPTION, THREE_FOLDS_OPTION, VIDEOS_OPTION, Imported, VideoResolver,
                                      find_annotation, numbered_lines, parse_int)
from vssl.data.manifest import Sample

ANNOTATION_FOLDERS = ("ucfTrainTestlist",)
VIDEO_FOLDERS = ("UCF-101", "UCF101")
OPTIONS = {
    "fold": THREE_FOLDS_OPTION,
    "videos": VIDEOS_OPTION,
    "missing": MISSING_OPTION,
}


def read_class_index(path: Path) -> list[str]:
    """Class names in classInd order; indices must run 1, 2, 3, ..."""
    names = []
    for line_no, line in numbered_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise VsslError(f"{path}:{line_no}: expected '<class index> <class name>', got {line!r}")
        if int(parts[0]) != len(names) + 1:
            raise VsslError(f"{path}:{line_no}: expected class index {len(names) + 1}, got {parts[0]}")
        names.append(parts[1])
    return names


def _class_folder(video: str, classes_by_folder: dict[str, str], where: str) -> str:
    parts = video.replace("\\", "/").split("/")
    folder = parts[0] if len(parts) > 1 else ""
    if folder.lower() not in classes_by_folder:
        raise VsslError(f"{where}: '{video}' is not inside a class folder listed in classInd.txt")
    return classes_by_folder[folder.lower()]


def load(root: Path, options: dict[str, str], videos: VideoResolver) -> Imported:
    fold = options["fold"]
    classes = read_class_index(find_annotation(root, "classInd.txt", ANNOTATION_FOLDERS))
    classes_by_folder = {name.lower(): name for name in classes}
    samples = []
    train_list = find_annotation(root, f"trainlist0{fold}.txt", ANNOTATION_FOLDERS)
    for line_no, line in numbered_lines(train_list):
        where = f"{train_list}:{line_no}"
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2:
            raise VsslError(f"{where}: expected '<path> <class index>', got {line!r}")
        video, index = parts[0], parse_int(parts[1], where, "class index")
        if not 1 <= index <= len(classes):
            raise VsslError(f"{where}: class index {index} is not in classInd.txt (1..{len(classes)})")
        if _class_folder(video, classes_by_folder, where) != classes[index - 1]:
            raise VsslError(f"{where}: '{video}' is listed as class {index} ({classes[index - 1]}) "
                            "but lies in another class folder")
        path = videos.video(video, where)
        if path is not None:
            samples.append(Sample(path, "train", {"label": classes[index - 1]}))
    test_list = find_annotation(root, f"testlist0{fold}.txt", ANNOTATION_FOLDERS)
    for line_no, line in numbered_lines(test_list):
        where = f"{test_list}:{line_no}"
        if len(line.split()) != 1:
            raise VsslError(f"{where}: expected '<class folder>/<video>', got {line!r}")
        label = _class_folder(line, classes_by_folder, where)
        path = videos.video(line, where)
        if path is not None:
            samples.append(Sample(path, "test", {"label": label}))
    return Imported(samples, {"label": classes}, train_split="train", test_split="test")
