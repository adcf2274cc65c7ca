"""On-disk cache of frozen per-view features, so that kNN, linear, retrieval and SVM protocols on the same encoder
and views decode the videos once.

An entry holds one tap's features [N, V, D] of one split (NaN rows for unreadable videos) and the video paths in
row order. Its key is the JSON of:

* the encoder: the SHA-256 of the checkpoint file's bytes (with the backbone it was loaded into, for a foreign
  file), of an in-memory module's state dict, or, for a random init, the backbone spec and seed;
* the data: the SHA-256 of the manifest file's bytes and the split;
* the views: clip length, stride, clips per video, spatial crops, crop size and short side;
* the tap (a backbone tap name);
* the autocast dtype, only when features were extracted in mixed precision (``amp``).

Files are ``<folder>/<tap>-<first 20 hex digits of the key's SHA-256>.pt``, written atomically and read with
``torch.load(weights_only=True)``. An entry whose paths differ from the dataset's (e.g. a video became readable)
is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from vssl.core.io import ensure_directory, torch_save_atomic
from vssl.core.runtime import Placement
from vssl.data.loader import VideoClipDataset
from vssl.evaluation.features import extract_tap_features

CACHE_FORMAT = "vssl-features-v1"
HASH_CHUNK_BYTES = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(module: nn.Module) -> str:
    """SHA-256 of a module's state dict: every key, dtype, shape and the tensor bytes, in key order."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


class FeatureCache:
    """Feature files in ``folder``; ``folder=None`` caches nothing. ``hits``/``misses``: entries found or not."""

    def __init__(self, folder: str | os.PathLike | None):
        self.folder = None if folder is None else Path(folder)
        self.hits = self.misses = 0

    def _file(self, key: dict) -> Path:
        blob = json.dumps({"format": CACHE_FORMAT, **key}, sort_keys=True, default=str)
        return self.folder / f"{key['tap']}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}.pt"

    def load(self, key: dict, paths: list[str]) -> torch.Tensor | None:
        """The cached features for ``key`` if present and computed for exactly ``paths``."""
        features = None
        if self.folder is not None and self._file(key).is_file():
            entry = torch.load(self._file(key), weights_only=True)
            features = entry["features"] if entry["paths"] == paths else None
        if features is None:
            self.misses += 1
        else:
            self.hits += 1
        return features

    def save(self, key: dict, paths: list[str], features: torch.Tensor) -> None:
        if self.folder is None:
            return
        ensure_directory(self.folder, "feature_cache")
        target = self._file(key)
        torch_save_atomic({"features": features, "paths": paths,
                           "key": json.dumps(key, sort_keys=True, default=str)}, target)


def cached_tap_features(cache: FeatureCache, key: dict, encoder: Callable[[], nn.Module], dataset: VideoClipDataset,
                        taps: list[str], batch_size: int, num_workers: int, progress: bool,
                        desc: str, placement: Placement | None = None) -> tuple[dict[str, torch.Tensor], list[str]]:
    """{tap: [N, V, D]} on the CPU for ``dataset``, from the cache where possible; the missing taps in one feature
    pass on ``placement`` (default: the encoder's own device). The device is not part of ``key`` (CPU and CUDA fp32
    features differ by rounding only); the caller adds the autocast dtype to it when there is one.

    ``key`` identifies encoder, data and views (the tap is added per entry); ``encoder()`` is only called when a
    tap is missing. → (features, paths of videos that could not be decoded).
    """
    paths = [s.path for s in dataset.samples]
    features = {tap: cache.load({**key, "tap": tap}, paths) for tap in taps}
    missing = [tap for tap, value in features.items() if value is None]
    if missing:
        extracted, _ = extract_tap_features(encoder(), dataset, missing, batch_size, num_workers, progress, desc,
                                            placement)
        for tap in missing:
            cache.save({**key, "tap": tap}, paths, extracted[tap])
        features.update(extracted)
    first = features[taps[0]]
    skipped = [paths[i] for i in first.flatten(1).isnan().any(dim=1).nonzero().flatten().tolist()]
    return features, skipped
