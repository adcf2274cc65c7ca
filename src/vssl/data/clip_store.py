"""Decoded uint8 clip store: every video of a manifest decoded once into one memory-mapped file plus a JSON index."""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vssl.core.errors import VideoReadError, VsslError
from vssl.core.io import atomic_directory
from vssl.data.index import build_index, index_path_for
from vssl.data.manifest import Sample, read_manifest
from vssl.data.video import VideoInfo, open_video

STORE_FORMAT = "vssl-clip-store-v2"  # v2: videos under the manifest's folder keyed relative to it
FRAMES_FILE = "frames.u8"
INDEX_FILE = "index.json"


def store_path_for(manifest: str | os.PathLike) -> Path:
    """``<manifest>.clips``: the store's folder, next to the manifest."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name + ".clips")


def _key(path: str | os.PathLike, root: Path) -> str:
    """A video's key in the store: its path relative to ``root`` (the manifest's folder) when it lies under it, so a
    dataset folder that is moved or copied keeps its store; otherwise its absolute path."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root)
    return absolute if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def _stamp(path: str | os.PathLike) -> list[int] | None:
    """[size, mtime_ns] of a file; of a frame folder, its images' total size and newest mtime. None if missing."""
    try:
        st = os.stat(path)
        if not os.path.isdir(path):
            return [st.st_size, st.st_mtime_ns]
        with os.scandir(path) as entries:
            stats = [entry.stat() for entry in entries]
    except OSError:
        return None
    return [sum(s.st_size for s in stats), max([st.st_mtime_ns, *(s.st_mtime_ns for s in stats)])]


class ClipStore:
    """Frames of the videos in a built store, found by their path relative to the store's folder (see ``_key``), so
    a manifest naming them relative to another folder, or a moved dataset folder, finds them too. The frames file
    is memory-mapped on the first read in each process, so a store is cheap to pickle into DataLoader workers."""

    def __init__(self, folder: Path, videos: dict[str, dict]):
        self.folder = folder
        self.videos = videos  # key (``_key``) → offset, num_frames, height, width, fps, size, mtime_ns
        self.root = folder.parent.absolute()
        self._frames: np.ndarray | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_frames": None}

    def __contains__(self, path: str) -> bool:
        return _key(path, self.root) in self.videos

    def __len__(self) -> int:
        return len(self.videos)

    def info(self, path: str) -> VideoInfo:
        video = self.videos[_key(path, self.root)]
        return VideoInfo(video["num_frames"], video["fps"], video["width"], video["height"])

    def read(self, path: str, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 RGB [len(indices), H, W, 3]."""
        video = self.videos[_key(path, self.root)]
        n, h, w = video["num_frames"], video["height"], video["width"]
        wanted = np.array([operator.index(i) for i in indices], dtype=np.int64)
        outside = wanted[(wanted < 0) | (wanted >= n)]
        if len(outside):
            raise IndexError(f"frame index {outside[0]} out of range for '{path}' ({n} frames)")
        if self._frames is None:
            self._frames = np.asarray(np.memmap(self.folder / FRAMES_FILE, dtype=np.uint8, mode="r"))
        start = video["offset"]
        return self._frames[start:start + n * h * w * 3].reshape(n, h, w, 3)[wanted]


def build_clip_store(manifest: str | os.PathLike, samples: list[Sample] | None = None,
                     progress: bool = True) -> Path:
    """Decode every readable video of ``samples`` (default: every split of the manifest) into ``<manifest>.clips``,
    print a one-line summary and return the folder. Unreadable videos are skipped and listed in the index.

    The store is built in a temporary sibling folder and renamed into place when complete, so an interrupted
    build leaves any previous store as it was and never a partial one.
    """
    manifest = Path(manifest)
    samples = read_manifest(manifest) if samples is None else samples
    index = build_index(samples, cache=index_path_for(manifest), progress=progress)
    target = store_path_for(manifest)
    manifest_stamp = _stamp(manifest)
    try:
        with atomic_directory(target) as tmp:
            root = target.parent.absolute()
            videos, unreadable = _decode_all(sorted(index.infos), tmp / FRAMES_FILE, root, progress)
            errors = {os.path.abspath(path): reason for path, reason in index.errors.items()}
            unreadable = dict(sorted((errors | unreadable).items()))
            (tmp / INDEX_FILE).write_text(json.dumps({"format": STORE_FORMAT, "manifest": str(manifest),
                                                      "manifest_stamp": manifest_stamp, "videos": videos,
                                                      "unreadable": unreadable}, indent=0))
    except OSError as error:  # e.g. the disk filled up
        raise VsslError(f"cannot write the clip store {target}: {error.strerror or error}") from error
    frames = sum(v["num_frames"] for v in videos.values())
    size_mb = (target / FRAMES_FILE).stat().st_size / 1e6
    print(f"clip store {target}: {len(videos)} videos, {frames} frames, {size_mb:.1f} MB"
          + (f"; skipped {len(unreadable)} unreadable video(s), listed in {target / INDEX_FILE}" if unreadable else ""))
    return target


def _decode_all(paths: list[str], frames_file: Path, root: Path, progress: bool) -> tuple[dict[str, dict], dict[str, str]]:
    """Append every video's frames to ``frames_file``; → (index entries, {path: reason} of undecodable videos)."""
    videos: dict[str, dict] = {}
    unreadable: dict[str, str] = {}
    offset = 0
    with open(frames_file, "wb") as out:
        for path in tqdm(paths, desc="clip store", unit="video", disable=not progress):
            key = _key(path, root)
            stamp = _stamp(path)  # taken before decoding: a file changed meanwhile makes the store stale, not wrong
            try:
                with open_video(path) as reader:
                    frames = reader.read(range(reader.num_frames))
                    fps = reader.fps
            except VideoReadError as error:
                unreadable[os.path.abspath(path)] = str(error)  # listed for people: absolute
                continue
            out.write(frames.tobytes())
            n, h, w = frames.shape[:3]
            videos[key] = {"offset": offset, "num_frames": n, "height": h, "width": w, "fps": fps,
                           "size": stamp[0], "mtime_ns": stamp[1]}
            offset += frames.nbytes
        out.flush()
        os.fsync(out.fileno())
    return videos, unreadable


def open_clip_store(manifest: str | os.PathLike) -> ClipStore | None:
    """The manifest's clip store, or None when there is none or it is stale (the manifest or a video changed since
    it was built: checked by size and mtime, stat calls only). Prints one line saying which store is read, or why
    it is ignored."""
    folder = store_path_for(manifest)
    index_file = folder / INDEX_FILE
    if not index_file.is_file():
        return None
    rebuild = f"ignoring clip store {folder} (rebuild it with `vssl data cache {manifest}`)"
    try:
        data = json.loads(index_file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"{index_file}: unreadable ({error}); {rebuild}")
        return None
    if data.get("format") != STORE_FORMAT:
        print(f"{index_file}: not a {STORE_FORMAT} index; {rebuild}")
        return None
    videos = data["videos"]
    expected_bytes = sum(v["num_frames"] * v["height"] * v["width"] * 3 for v in videos.values())
    frames_stamp = _stamp(folder / FRAMES_FILE)
    if frames_stamp is None or frames_stamp[0] != expected_bytes:
        print(f"{folder / FRAMES_FILE}: missing or of the wrong size; {rebuild}")
        return None
    root = folder.parent.absolute()
    recorded = [(str(manifest), data["manifest_stamp"])] + [(root / key, [v["size"], v["mtime_ns"]])
                                                            for key, v in videos.items()]
    for path, stamp in recorded:
        now = _stamp(path)
        if now != stamp:
            print(f"{path} {'is missing' if now is None else 'changed'} since the clip store was built; {rebuild}")
            return None
    print(f"reading frames from clip store {folder}")
    return ClipStore(folder, videos)
