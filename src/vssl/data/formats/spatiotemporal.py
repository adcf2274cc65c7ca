"""Person boxes with action labels per keyframe: AVA v2.2 CSVs and label maps, and the corrected UCF101-24 tubes."""

from __future__ import annotations

import codecs
import csv
import json
import math
import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vssl.core.errors import VsslError
from vssl.core.io import write_text_atomic

# The 24 classes of UCF101-24 in the order of the corrected annotation's label indices 0-23
# (gurkirt/corrected-UCF101-Annots, read by gurkirt/realtime-action-detection data/ucf24.py).
UCF24_CLASSES = ("Basketball", "BasketballDunk", "Biking", "CliffDiving", "CricketBowling", "Diving", "Fencing",
                 "FloorGymnastics", "GolfSwing", "HorseRiding", "IceDancing", "LongJump", "PoleVault", "RopeClimbing",
                 "SalsaSpin", "SkateBoarding", "Skiing", "Skijet", "SoccerJuggling", "Surfing", "TennisSwing",
                 "TrampolineJumping", "VolleyballSpiking", "WalkingWithDog")
UCF101_FRAME_SIZE = (320, 240)  # width, height of every UCF101 video (Soomro et al. 2012, Table 1)
AVA_COLUMNS = ("video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "person_id")


@dataclass(frozen=True)
class LabelledBox:
    """One person (or sprite) on a keyframe: its box as fractions of the frame width and height, its classes
    (indices into ``BoxAnnotations.classes``) and its AVA person id or UCF101-24 tube index."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in [0, 1]
    labels: tuple[int, ...]
    person: int = -1


@dataclass
class Keyframe:
    """The boxes of one annotated instant of a video: at ``time`` seconds (AVA), or at ``frame`` (UCF101-24)."""

    video: str  # the annotation's video id
    boxes: list[LabelledBox]
    time: float | None = None
    frame: int | None = None


@dataclass
class BoxAnnotations:
    classes: list[str]  # class names by index
    keyframes: list[Keyframe] = field(default_factory=list)


def video_key(name: str | Path) -> str:
    """The name that joins a manifest's video to its annotation: the last path component without its extension
    (``Basketball/v_Basketball_g01_c01`` and ``/data/v_Basketball_g01_c01.avi`` both give
    ``v_Basketball_g01_c01``)."""
    return Path(str(name)).stem


# ---------------------------------------------------------------------------------------------------------------
# AVA: ava_action_list_v2.2.pbtxt and ava_{train,val}_v2.2.csv (Gu et al. 2018)

_PBTXT_TOKEN = re.compile(r'(\w+)\s*\{|(\})|(\w+)\s*:\s*("(?:[^"\\]|\\.)*"|[^\s{}]+)')


def read_label_map(path: str | Path) -> dict[int, str]:
    """Action id → name, in file order, from a label map in either form AVA ships: ``label { name: "..."
    label_id: N label_type: ... }`` (ava_action_list_v2.2.pbtxt) or ``item { name: "..." id: N }`` (the
    60-class ava_action_list_v2.2_for_activitynet_2019.pbtxt)."""
    path = Path(path)
    text = _read_text(path)
    labels: dict[int, str] = {}
    entry: dict[str, str] | None = None
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            break
        line = text.count("\n", 0, position) + 1
        match = _PBTXT_TOKEN.match(text, position)
        if match is None:
            raise VsslError(f"{path}:{line}: unexpected text {text[position:position + 30]!r}")
        block, close, key, value = match.groups()
        position = match.end()
        if block is not None:
            if entry is not None or block not in ("label", "item"):
                raise VsslError(f"{path}:{line}: unexpected block '{block} {{'")
            entry = {"line": str(line)}
        elif close is not None:
            if entry is None:
                raise VsslError(f"{path}:{line}: '}}' without an open block")
            number, name = _label_entry(entry, path)
            if number in labels:
                raise VsslError(f"{path}:{entry['line']}: action id {number} listed twice")
            labels[number] = name
            entry = None
        elif entry is None:
            raise VsslError(f"{path}:{line}: '{key}' outside a label block")
        else:
            entry[key] = value
    if entry is not None:
        raise VsslError(f"{path}:{entry['line']}: block not closed")
    if not labels:
        raise VsslError(f"{path}: no labels")
    return labels


def _label_entry(entry: dict[str, str], path: Path) -> tuple[int, str]:
    where = f"{path}:{entry['line']}"
    number = entry.get("label_id", entry.get("id"))
    name = entry.get("name", "")
    if number is None or not re.fullmatch(r"\d+", number):
        raise VsslError(f"{where}: a label needs an integer 'label_id' (or 'id'), got {number!r}")
    if not (len(name) >= 2 and name[0] == name[-1] == '"'):
        raise VsslError(f"{where}: a label needs a quoted 'name', got {name!r}")
    return int(number), name[1:-1]


def write_label_map(path: str | Path, labels: dict[int, str]) -> None:
    """Write ``labels`` (action id → name) in ava_action_list_v2.2.pbtxt's form (without label types)."""
    write_text_atomic(path, "".join(f'label {{\n  name: "{name}"\n  label_id: {number}\n}}\n'
                                    for number, name in labels.items()))


def read_ava(csv_paths: Iterable[str | Path], label_map: str | Path) -> BoxAnnotations:
    """The keyframes of AVA CSVs (``video_id, timestamp, x1, y1, x2, y2, action_id[, person_id]``, boxes as
    fractions of the frame): the rows of one box at one timestamp become one :class:`LabelledBox` with every
    action it has. Classes are the label map's, in its order; rows of actions outside it are left out, as AVA's
    evaluation leaves them out, and so is a box left with no action."""
    ids = read_label_map(label_map)
    index = {number: position for position, number in enumerate(ids)}
    frames: dict[tuple[str, float], dict[tuple[float, ...], tuple[list[int], int]]] = {}
    for path in map(Path, csv_paths):
        for line, row in enumerate(csv.reader(_read_text(path).splitlines()), start=1):
            if not row:
                continue
            video, time, box, action, person = _ava_row(row, f"{path}:{line}")
            if action not in index:
                continue
            labels, _ = frames.setdefault((video, time), {}).setdefault(box, ([], person))
            if index[action] not in labels:
                labels.append(index[action])
    keyframes = [Keyframe(video, [LabelledBox(box, tuple(sorted(labels)), person)
                                  for box, (labels, person) in boxes.items()], time=time)
                 for (video, time), boxes in frames.items()]
    return BoxAnnotations(list(ids.values()), keyframes)


def _ava_row(row: list[str], where: str) -> tuple[str, float, tuple[float, ...], int, int]:
    if len(row) not in (7, 8):
        raise VsslError(f"{where}: expected 7 or 8 columns ({', '.join(AVA_COLUMNS)}), got {len(row)}")
    try:
        time = float(row[1])
        box = tuple(float(value) for value in row[2:6])
        action = int(row[6])
        person = int(row[7]) if len(row) == 8 else -1
    except ValueError:
        raise VsslError(f"{where}: timestamp, box and ids must be numbers, got {','.join(row)!r}") from None
    if not row[0] or not math.isfinite(time) or time < 0:
        raise VsslError(f"{where}: needs a video id and a timestamp >= 0, got {row[0]!r}, {row[1]!r}")
    _check_box(box, where)
    return row[0], time, box, action, person


def _check_box(box: tuple[float, ...], where: str) -> None:
    x1, y1, x2, y2 = box
    if not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
        raise VsslError(f"{where}: box {box} must satisfy 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1")


def write_ava(csv_path: str | Path, label_map: str | Path, annotations: BoxAnnotations) -> None:
    """Write ``annotations`` as an AVA CSV (boxes to 3 decimals as AVA's files) and its label map, class ``i``
    as action id ``i + 1``."""
    write_label_map(label_map, {i + 1: name for i, name in enumerate(annotations.classes)})
    rows = []
    for keyframe in annotations.keyframes:
        if keyframe.time is None:
            raise VsslError(f"video {keyframe.video}: AVA keyframes need a time in seconds")
        time = f"{int(keyframe.time):04d}" if float(keyframe.time).is_integer() else f"{keyframe.time:.3f}"
        for box in keyframe.boxes:
            for label in box.labels:
                rows.append(",".join([keyframe.video, time, *(f"{v:.3f}" for v in box.box), str(label + 1),
                                      str(box.person)]))
    write_text_atomic(csv_path, "".join(f"{row}\n" for row in rows))


# ---------------------------------------------------------------------------------------------------------------
# UCF101-24, corrected annotation (gurkirt/corrected-UCF101-Annots): per video "label" (0-23), "numf" (frames) and
# "annotations", its tubes, each {"label", "sf" (first frame, 0-based), "ef" (end frame, exclusive), "boxes"
# [ef - sf, 4] as (x, y, width, height) in 1-based pixels of the 320×240 frames}. The JSON variant holds the same
# structure; either may wrap the videos as {"db": videos, "classes": names, ...} (pyannot_with_class_names.pkl).


def read_ucf24(path: str | Path) -> BoxAnnotations:
    """The keyframes of a UCF101-24 annotation (.json, or .pkl read by :func:`load_safe_pickle`): every frame
    that a tube covers, with the box of each tube covering it."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            data = json.loads(_read_text(path))
        except json.JSONDecodeError as e:
            raise VsslError(f"{path}: invalid JSON ({e})") from None
    else:
        data = load_safe_pickle(path)
    if not isinstance(data, dict):
        raise VsslError(f"{path}: expected a mapping of videos, got {type(data).__name__}")
    videos, prefix = (data["db"], "db.") if "db" in data else (data, "")
    classes = [str(name) for name in data.get("classes", UCF24_CLASSES)]
    if not isinstance(videos, dict):
        raise VsslError(f"{path}: {prefix or 'the file'} must map video names to their annotation")
    keyframes = []
    for video in sorted(videos):
        keyframes.extend(_ucf24_video(videos[video], str(video), len(classes), f"{path}: {prefix}{video}"))
    return BoxAnnotations(classes, keyframes)


def _ucf24_video(entry, video: str, num_classes: int, where: str) -> list[Keyframe]:
    if not isinstance(entry, dict) or "numf" not in entry or "annotations" not in entry:
        raise VsslError(f"{where}: needs 'numf' and 'annotations'")
    numf = _integer(entry["numf"], f"{where}.numf")
    frames: dict[int, list[LabelledBox]] = {}
    width, height = UCF101_FRAME_SIZE
    for k, tube in enumerate(entry["annotations"]):
        at = f"{where}.annotations[{k}]"
        if not isinstance(tube, dict) or any(key not in tube for key in ("sf", "ef", "label", "boxes")):
            raise VsslError(f"{at}: needs 'sf', 'ef', 'label' and 'boxes'")
        start, end, label = (_integer(tube[key], f"{at}.{key}") for key in ("sf", "ef", "label"))
        if not 0 <= start < end <= numf:
            raise VsslError(f"{at}: needs 0 <= sf < ef <= numf, got sf={start} ef={end} numf={numf}")
        if not 0 <= label < num_classes:
            raise VsslError(f"{at}.label: {label} is not a class index 0-{num_classes - 1}")
        try:
            boxes = np.asarray(tube["boxes"], dtype=np.float64)
        except (TypeError, ValueError):
            raise VsslError(f"{at}.boxes: expected numbers [ef - sf, 4]") from None
        if boxes.shape != (end - start, 4):
            raise VsslError(f"{at}.boxes: expected shape ({end - start}, 4) for sf={start} ef={end}, "
                            f"got {boxes.shape}")
        for offset, (x, y, w, h) in enumerate(boxes.tolist()):
            box = (min(max((x - 1) / width, 0.0), 1.0), min(max((y - 1) / height, 0.0), 1.0),
                   min(max((x - 1 + w) / width, 0.0), 1.0), min(max((y - 1 + h) / height, 0.0), 1.0))
            _check_box(box, f"{at}.boxes[{offset}]")
            frames.setdefault(start + offset, []).append(LabelledBox(box, (label,), k))
    return [Keyframe(video, boxes, frame=frame) for frame, boxes in sorted(frames.items())]


def _integer(value, where: str) -> int:
    """An int, numpy integer or one-element integer array (the pickle's ``numf`` may be any) as an int."""
    number = np.asarray(value)
    if number.size != 1 or not np.issubdtype(number.dtype, np.integer):
        raise VsslError(f"{where}: expected an integer, got {value!r}")
    return int(number.reshape(()))


def write_ucf24_json(path: str | Path, videos: dict[str, dict], classes: Iterable[str] = UCF24_CLASSES) -> None:
    """Write UCF101-24 annotations (video → {"label", "numf", "annotations"}) as the JSON variant with its
    class names."""
    write_text_atomic(path, json.dumps({"classes": list(classes), "db": videos}, default=_plain))


def _plain(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# ---------------------------------------------------------------------------------------------------------------
# A pickle reader that builds nothing but plain containers, numbers, strings and numpy arrays


def _numpy_globals() -> dict[tuple[str, str], object]:
    """numpy's array (protocols 2-4: ``_reconstruct``; 5: ``_frombuffer``), dtype and scalar constructors, under
    the module names numpy 1 and 2 pickle them with, and ``_codecs.encode``, with which Python 3 writes bytes in
    protocols 0-2 (a string to bytes, nothing more)."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                              ("_codecs", "encode"): codecs.encode}
    for package in ("numpy.core", "numpy._core"):
        allowed |= {(f"{package}.multiarray", name): getattr(multiarray, name) for name in ("_reconstruct", "scalar")}
        allowed[f"{package}.numeric", "_frombuffer"] = numeric._frombuffer
    return allowed


class _ArraysOnly(pickle.Unpickler):
    """Refuses every global but numpy's array, dtype and scalar constructors: a pickle can then build nothing
    else (no function call, no other class), whatever its bytes say."""

    allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"refused global '{module}.{name}'")
        return self.allowed[module, name]


def load_safe_pickle(path: str | Path):
    """Unpickle ``path`` (Python 2 pickles included, as numpy reads them: latin-1) with :class:`_ArraysOnly`;
    anything else in it raises a one-line VsslError naming the file."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            return _ArraysOnly(file, encoding="latin1").load()
    except FileNotFoundError:
        raise VsslError(f"{path}: file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise VsslError(f"{path}: not read ({e}); only plain containers and numpy arrays are unpickled") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VsslError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise VsslError(f"{path}: not a UTF-8 text file ({e.reason})") from None
