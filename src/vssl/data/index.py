"""Per-file metadata cache (frames, fps, size) so loaders never re-probe videos; unreadable files are recorded."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from vssl.core.errors import VideoReadError
from vssl.core.io import write_json_atomic
from vssl.data.manifest import Sample
from vssl.data.video import VideoInfo, probe


def index_path_for(manifest: str | Path) -> Path:
    manifest = Path(manifest)
    return manifest.with_name(manifest.name + ".index.json")


def _stamp(path: str) -> list:
    """Size and mtime identify a file version; a changed file is probed again."""
    try:
        st = os.stat(path)
    except OSError:
        return [None, None]
    return [st.st_size, int(st.st_mtime)]


class VideoIndex:
    """Maps a video path to its :class:`VideoInfo`, or to the error that made it unreadable."""

    def __init__(self, infos: dict[str, VideoInfo], errors: dict[str, str]):
        self.infos = infos
        self.errors = errors

    def __contains__(self, path: str) -> bool:
        return path in self.infos

    def __getitem__(self, path: str) -> VideoInfo:
        return self.infos[path]


def build_index(samples: list[Sample], cache: str | Path | None = None, progress: bool = True) -> VideoIndex:
    """Probe every distinct video once (reusing a cache file if given), write the cache back atomically."""
    cached: dict = {}
    if cache is not None and Path(cache).is_file():
        try:
            cached = json.loads(Path(cache).read_text())
        except json.JSONDecodeError:
            cached = {}
    paths = sorted({s.path for s in samples})
    infos: dict[str, VideoInfo] = {}
    errors: dict[str, str] = {}
    entries: dict = {}
    changed = False
    for path in tqdm(paths, desc="index videos", unit="video", disable=not progress or len(paths) < 50):
        stamp = _stamp(path)
        entry = cached.get(path)
        if entry is None or entry.get("stamp") != stamp:
            changed = True
            try:
                entry = {"stamp": stamp, "info": asdict(probe(path))}
            except VideoReadError as e:
                entry = {"stamp": stamp, "error": str(e)}
        entries[path] = entry
        if "info" in entry:
            infos[path] = VideoInfo(**entry["info"])
        else:
            errors[path] = entry["error"]
    if cache is not None and changed:
        # keep the entries of other splits: pre-training and evaluation index different subsets of one manifest
        write_json_atomic(cache, cached | entries, indent=0)
    return VideoIndex(infos, errors)
