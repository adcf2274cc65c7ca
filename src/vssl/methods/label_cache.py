"""Statistics labels (Wang 2020) computed once per labelled clip position of a manifest split and cached on disk.

Which clips are labelled: in every video (or manifest segment) the clips of ``clip_len`` frames at ``stride`` that
start at frames 0, step, 2·step, … up to the last start whose clip fits; ``position_step`` (step) defaults to one
clip span, i.e. non-overlapping clips, as Wang 2020 §3.4.2 splits UCF101 videos for pre-training. A video shorter than
one clip has the single start 0 and its last frame repeats, as in the loader. :class:`LabelledClipSampler` draws one
of exactly these starts per video and epoch, so every clip a method trains on has cached labels.

The cache file (default ``<manifest>.statistics.<split>.<clip_len>x<stride>.every<step>.npz`` next to the manifest)
holds for every labelled position the video path, the absolute frame of the clip's first frame, the 14 motion and 13
appearance labels of the clip as decoded and of its left-right mirror image, and the motion concentration of
Wang 2020 Eq. 3.1 (for the curriculum); for every video its size and mtime, so a changed file is labelled again.
It is written to a temporary file and renamed (atomic), every 30 s and when the run ends or is interrupted, so an
interrupted run resumes with the videos it has not finished. A clip's labels are a pure function of its decoded
frames (:func:`vssl.methods.flow_statistics.clip_statistics`); :func:`clip_labels` recomputes one from its video.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import VideoReadError, VsslError
from vssl.core.io import atomic_open
from vssl.methods import flow_statistics
from vssl.methods.curriculum import motion_concentration
from vssl.methods.flow_statistics import APPEARANCE_LABELS, MOTION_LABELS, clip_statistics
from vssl.data.index import build_index, index_path_for
from vssl.data.loader import segment_frames
from vssl.data.manifest import read_manifest
from vssl.data.sampling import clip_indices, clip_span
from vssl.data.video import open_video

SAVE_EVERY_S = 30.0
READ_BUDGET_BYTES = 64 * 2**20  # decoded frames held at once: clips of one video are read together up to this
ORIENTATIONS = 2  # index 0: the clip as decoded; 1: its left-right mirror image


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise VsslError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def resolve_position_step(clip_len: int, stride: int, position_step: int | None) -> int:
    """Frames between labelled clip starts; None = one clip span (non-overlapping clips)."""
    if position_step is None:
        return clip_span(_positive_int("clip_len", clip_len), _positive_int("stride", stride))
    return _positive_int("position_step", position_step)


def labelled_starts(num_frames: int, clip_len: int, stride: int, position_step: int) -> list[int]:
    """Labelled clip starts of a video (or segment) of ``num_frames`` frames, relative to its first frame."""
    last_start = max(num_frames - clip_span(clip_len, stride), 0)
    return list(range(0, last_start + 1, position_step))


def default_labels_path(manifest: str | os.PathLike, split: str, clip_len: int, stride: int,
                        position_step: int | None = None) -> Path:
    step = resolve_position_step(clip_len, stride, position_step)
    manifest = Path(manifest)
    return manifest.with_name(f"{manifest.name}.statistics.{split}.{clip_len}x{stride}.every{step}.npz")


def labels_command(manifest, split: str, clip_len: int, stride: int, position_step: int | None = None,
                   out: str | os.PathLike | None = None) -> str:
    """The ``vssl`` command line that computes these labels."""
    command = f"vssl data labels statistics {manifest} --split {split} --clip-len {clip_len} --stride {stride}"
    if position_step is not None:
        command += f" --position-step {position_step}"
    return command + (f" --out {out}" if out else "")


def _settings(clip_len: int, stride: int, position_step: int) -> dict:
    """Everything the labels depend on besides the frames; a cache written with other settings is recomputed."""
    return {"clip_len": clip_len, "stride": stride, "position_step": position_step,
            "label_short_side": flow_statistics.LABEL_SHORT_SIDE, "farneback": flow_statistics.FARNEBACK,
            "histogram_bins": flow_statistics.HISTOGRAM_BINS}


def _stamp(path: str) -> tuple[int, int]:
    """Size and mtime (ns) identify a file version."""
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


@dataclass
class VideoLabels:
    """The labelled positions of one video."""

    stamp: tuple[int, int]
    starts: np.ndarray  # [P] absolute first frame of each clip
    motion: np.ndarray  # [P, 2, 14]
    appearance: np.ndarray  # [P, 2, 13]
    concentration: np.ndarray  # [P]


def _empty_labels(stamp: tuple[int, int]) -> VideoLabels:
    return VideoLabels(stamp, np.zeros(0, np.int64), np.zeros((0, ORIENTATIONS, MOTION_LABELS), np.int16),
                       np.zeros((0, ORIENTATIONS, APPEARANCE_LABELS), np.int16), np.zeros(0, np.float32))


def _save(path: Path, settings: dict, videos: dict[str, VideoLabels]) -> None:
    """All videos' labels in one npz, written to a temporary file and renamed."""
    paths = sorted(videos)
    entries = [videos[p] for p in paths]
    counts = [len(e.starts) for e in entries]
    arrays = {
        "settings": np.array(json.dumps(settings, sort_keys=True)),
        "video_paths": np.array(paths, dtype=str),
        "video_stamps": np.array([e.stamp for e in entries], dtype=np.int64).reshape(-1, 2),
        "video_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "starts": np.concatenate([e.starts for e in entries] or [np.zeros(0, np.int64)]).astype(np.int64),
        "motion": np.concatenate([e.motion for e in entries]
                                 or [np.zeros((0, ORIENTATIONS, MOTION_LABELS))]).astype(np.int16),
        "appearance": np.concatenate([e.appearance for e in entries]
                                     or [np.zeros((0, ORIENTATIONS, APPEARANCE_LABELS))]).astype(np.int16),
        "concentration": np.concatenate([e.concentration for e in entries] or [np.zeros(0)]).astype(np.float32),
    }
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _load(path: Path) -> tuple[dict, dict[str, VideoLabels]]:
    """(settings, videos) of a cache file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}  # each access would decompress the array again
        settings = json.loads(str(arrays["settings"]))
        offsets = arrays["video_offsets"]
        videos = {}
        for i, video in enumerate(arrays["video_paths"].tolist()):
            rows = slice(offsets[i], offsets[i + 1])
            videos[video] = VideoLabels(tuple(int(v) for v in arrays["video_stamps"][i]), arrays["starts"][rows],
                                        arrays["motion"][rows], arrays["appearance"][rows],
                                        arrays["concentration"][rows])
    except (OSError, ValueError, KeyError) as error:
        raise VsslError(f"{path}: not a readable statistics label cache ({error}); delete it and compute "
                        f"again") from error
    return settings, videos


def clip_labels(path: str | os.PathLike, frames: list[int]):
    """(clip, mirrored clip) :class:`ClipStatistics` of the clip at absolute ``frames`` of a video."""
    with open_video(path) as reader:
        return clip_statistics(reader.read(frames))


def _label_video(path: str, positions: dict[int, list[int]], stamp: tuple[int, int],
                 frame_bytes: int) -> VideoLabels:
    """Labels of every position (absolute start → frame indices) of one video; none if it cannot be decoded.

    Several clips are decoded in one read (each keyframe interval once), as many as ``READ_BUDGET_BYTES`` allows.
    """
    starts = sorted(positions)
    clip_len = len(positions[starts[0]])
    per_read = max(1, READ_BUDGET_BYTES // (clip_len * frame_bytes))
    motion, appearance, concentration = [], [], []
    try:
        with open_video(path) as reader:
            for first in range(0, len(starts), per_read):
                chunk = starts[first:first + per_read]
                frames = reader.read([i for start in chunk for i in positions[start]])
                for k in range(len(chunk)):
                    clip, mirrored = clip_statistics(frames[k * clip_len:(k + 1) * clip_len])
                    motion.append([clip.motion, mirrored.motion])
                    appearance.append([clip.appearance, mirrored.appearance])
                    concentration.append(motion_concentration(clip.summary.magnitude_u, clip.summary.magnitude_v))
    except VideoReadError:
        return _empty_labels(stamp)  # the loader skips it too; a changed file is tried again
    return VideoLabels(stamp, np.array(starts, np.int64), np.array(motion, np.int16),
                       np.array(appearance, np.int16), np.array(concentration, np.float32))


def _positions_per_video(samples, index, clip_len: int, stride: int, step: int) -> dict[str, dict[int, list[int]]]:
    """video path → {absolute start: absolute frame indices} over all readable samples (segments) of the split."""
    videos: dict[str, dict[int, list[int]]] = {}
    for sample in samples:
        if sample.path not in index:
            continue
        info = index[sample.path]
        first, count = segment_frames(sample, info.fps, info.num_frames)
        positions = videos.setdefault(sample.path, {})
        for start in labelled_starts(count, clip_len, stride, step):
            positions.setdefault(first + start, [first + i for i in clip_indices(start, clip_len, stride, count)])
    return videos


def compute_statistics_labels(manifest: str | os.PathLike, split: str = "pretrain", clip_len: int = 16,
                              stride: int = 1, out: str | os.PathLike | None = None, progress: bool = True,
                              position_step: int | None = None) -> Path:
    """Label every labelled clip position of a manifest split (see the module docstring); returns the cache file.

    Defaults are Wang 2020's clips: 16 consecutive frames (§3.4.2). Videos already labelled with the same settings
    and unchanged on disk are reused, so a second call computes nothing and an interrupted one resumes.
    """
    step = resolve_position_step(clip_len, stride, position_step)
    samples = read_manifest(manifest, split=split)
    if not samples:
        raise VsslError(f"{manifest}: no samples in split '{split}'")
    path = Path(out) if out else default_labels_path(manifest, split, clip_len, stride, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        # one process computes a cache at a time: another run of the same study waits, then finds it complete
        # (without the lock, two runs saving their partial progress every 30 s replace each other's file)
        if not _try_lock(lock):
            print(f"waiting for another process computing {path.name} ...", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        return _compute_locked(manifest, samples, path, clip_len, stride, step, progress)


def _try_lock(file) -> bool:
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def video_key(path: str) -> str:
    """A video's key in the cache: its real path, so that two manifests reaching one file through different folders
    (a study's data linked into another study) share its labels."""
    return os.path.realpath(path)


def _compute_locked(manifest, samples, path: Path, clip_len: int, stride: int, step: int, progress: bool) -> Path:
    settings = _settings(clip_len, stride, step)
    cached: dict[str, VideoLabels] = {}
    if path.is_file():
        cached_settings, cached = _load(path)
        if cached_settings != settings:
            cached = {}
    index = build_index(samples, cache=index_path_for(manifest), progress=progress)
    wanted = _positions_per_video(samples, index, clip_len, stride, step)
    real = {video_key(p): p for p in wanted}  # one entry per file, whichever path (symlink) reaches it
    videos = {key: cached[key] for key, p in real.items() if key in cached and cached[key].stamp == _stamp(p)}
    todo = [key for key in sorted(real) if key not in videos]
    if not todo and set(videos) == set(cached) and path.is_file():
        return path
    last_save = time.monotonic()
    try:
        for key in tqdm(todo, desc="statistics labels", unit="video", disable=not progress):
            video = real[key]
            info = index[video]
            videos[key] = _label_video(video, wanted[video], _stamp(video), info.width * info.height * 3)
            if time.monotonic() - last_save > SAVE_EVERY_S:
                _save(path, settings, videos)
                last_save = time.monotonic()
    finally:
        _save(path, settings, videos)
    return path


class LabelTable:
    """The cached labels, looked up by (video path, absolute start frame); ``command`` recomputes them."""

    def __init__(self, path: Path, videos: dict[str, VideoLabels], command: str):
        self.path = path
        self.videos = {video_key(video): labels for video, labels in videos.items()}
        self.command = command
        self.rows = {(video, int(start)): row for video, labels in self.videos.items()
                     for row, start in enumerate(labels.starts)}

    @classmethod
    def load(cls, path: str | os.PathLike, command: str) -> LabelTable:
        return cls(Path(path), _load(Path(path))[1], command)

    def targets(self, paths: list[str], starts: list[int], mirrored: list[bool]) -> tuple[np.ndarray, np.ndarray]:
        """Motion [B, 14] and appearance [B, 13] labels of clips, of their mirror images where ``mirrored``."""
        motion, appearance = [], []
        for video, start, flip in zip(paths, starts, mirrored):
            row = self.rows.get((video_key(video), int(start)))
            if row is None:
                raise VsslError(f"{self.path}: no statistics labels for '{video}' at frame {start}; compute them "
                                f"with: {self.command}")
            labels = self.videos[video_key(video)]
            motion.append(labels.motion[row, int(flip)])
            appearance.append(labels.appearance[row, int(flip)])
        return np.stack(motion), np.stack(appearance)

    def video_concentration(self, video: str) -> float:
        """Mean motion concentration (Eq. 3.1) over a video's labelled clips; 0 for a video without labels."""
        labels = self.videos.get(video_key(video))
        if labels is None or len(labels.concentration) == 0:
            return 0.0
        return float(labels.concentration.mean())


class LabelledClipSampler:
    """One clip per video, at a start drawn uniformly from its labelled starts (see the module docstring).

    A clip sampler as in ``vssl.data.sampling``: ``sampler(num_frames, fps, rng)`` → one clip of frame indices
    relative to the video (segment). It needs no labels: the starts follow from the frame count alone.
    """

    num_clips = 1

    def __init__(self, clip_len: int, stride: int, position_step: int | None):
        self.clip_len = _positive_int("clip_len", clip_len)
        self.stride = _positive_int("stride", stride)
        self.position_step = resolve_position_step(clip_len, stride, position_step)

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        starts = labelled_starts(_positive_int("num_frames", num_frames), self.clip_len, self.stride,
                                 self.position_step)
        start = starts[int(rng.integers(len(starts)))]
        return [clip_indices(start, self.clip_len, self.stride, num_frames)]
