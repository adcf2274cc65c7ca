"""Datasets and loaders: manifest → clip sampler → decoder → transforms, skipping (and counting) bad videos."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from vssl.core.errors import VideoReadError
from vssl.data.clip_store import ClipStore
from vssl.data.index import VideoIndex
from vssl.data.manifest import Sample
from vssl.data.transforms import to_float_video
from vssl.data.video import open_video


def segment_frames(sample: Sample, fps: float, num_frames: int) -> tuple[int, int]:
    """(first frame, frame count) of the sample's segment [start, end) seconds, or of the whole video."""
    first = 0 if sample.start is None else min(int(round(sample.start * fps)), num_frames - 1)
    last = num_frames if sample.end is None else min(int(round(sample.end * fps)), num_frames)
    return first, max(last - first, 1)


class LabelledSamples(Dataset):
    """A dataset of ``samples`` whose label sets map class names to indices through ``class_to_idx``."""

    samples: list
    class_to_idx: dict[str, dict[str, int]]

    def __len__(self) -> int:
        return len(self.samples)

    def labels(self, label_set: str) -> np.ndarray:
        """The class index of every sample in ``label_set``."""
        return np.array([self.class_to_idx[label_set][s.labels[label_set]] for s in self.samples])


class VideoClipDataset(LabelledSamples):
    """Each item: ``clips`` [K·repeat, C, T, H, W] from one video, its label indices, its position and the
    decoded ``frames`` [K, T] (absolute frame indices in the file) and its ``path``, so labels cached per clip
    position can be found. A transform returning [S, C, T, H, W] adds S views per clip (clip-major order).

    ``sampler(num_frames, fps, rng)`` returns K clips of frame indices (relative to the segment);
    ``repeat`` > 1 transforms each clip several times (ρ = 1 in Feichtenhofer et al. 2021: two crops of one instant).
    With a ``store`` (:mod:`vssl.data.clip_store`), the frames of the videos in it are read from it instead of
    being decoded: the same frames, so the same items.
    ``frame_filter(frames, seed)``, when given, changes the uint8 frames [N, H, W, 3] of an item before any transform
    (e.g. the test-time noise of :mod:`vssl.evaluation.robustness`), seeded by the item's own draw.
    ``files(sample)``, when given, names the files a clip is read from instead of ``sample.path`` (e.g. its depth
    video, :class:`vssl.data.modality.ModalityFiles`): frames at the same indices, stacked on the channel axis.
    Unreadable videos (found by the index or while decoding) are skipped: the item carries their path
    under ``skipped`` and the collate function drops it.
    """

    def __init__(self, samples: list[Sample], index: VideoIndex, sampler, transform,
                 label_sets: list[str] | None = None, class_names: dict[str, list[str]] | None = None,
                 repeat: int = 1, seed: int = 0, store: ClipStore | None = None,
                 frame_filter: Callable[[np.ndarray, int], np.ndarray] | None = None,
                 files: Callable[[Sample], list[str]] | None = None):
        self.unreadable = [s.path for s in samples if s.path not in index]
        self.samples = [s for s in samples if s.path in index]
        self.index = index
        self.sampler = sampler
        self.transform = transform
        self.label_sets = label_sets or []
        self.class_to_idx = {name: {c: i for i, c in enumerate((class_names or {})[name])}
                             for name in self.label_sets}
        self.repeat = repeat
        self.seed = seed
        self.store = store
        self.frame_filter = frame_filter
        self.files = files

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """``key`` is an index, or (epoch, index) from :class:`EpochShuffleSampler`."""
        epoch, i = key if isinstance(key, tuple) else (0, key)
        sample = self.samples[i]
        info = self.index[sample.path]
        first, count = segment_frames(sample, info.fps, info.num_frames)
        # Every random draw of an item is a function of (seed, epoch, index): whichever worker decodes it, and
        # whether or not the run was interrupted and resumed, the item gets the same clips and augmentations.
        draw = int(np.random.SeedSequence([self.seed, epoch, i]).generate_state(1, np.uint64)[0] >> 1)
        rng = np.random.default_rng(draw)
        generator = torch.Generator().manual_seed(draw)
        clips_indices = self.sampler(count, info.fps, rng)
        flat = [first + j for clip in clips_indices for j in clip]
        try:
            sources = [self._read_frames(path, flat) for path in (self.files or _own_file)(sample)]
        except VideoReadError:
            return {"skipped": sample.path}
        if self.frame_filter is not None:
            sources = [self.frame_filter(frames, draw) for frames in sources]
        clip_len = len(clips_indices[0])
        clips = []
        for k in range(len(clips_indices)):
            parts = [to_float_video(frames[k * clip_len:(k + 1) * clip_len]) for frames in sources]
            video = parts[0] if len(parts) == 1 else torch.cat(parts)
            for _ in range(self.repeat):  # a transform may return [S, C, T, H, W]: S views (e.g. spatial crops)
                views = self.transform(video, generator)
                clips.extend(views.unbind(0) if views.dim() == 5 else [views])
        labels = [self.class_to_idx[name][sample.labels[name]] for name in self.label_sets]
        return {"clips": torch.stack(clips), "labels": torch.tensor(labels, dtype=torch.long), "index": i,
                "path": sample.path,
                "frames": torch.tensor(flat, dtype=torch.long).view(len(clips_indices), clip_len)}

    def _read_frames(self, path: str, indices: list[int]) -> np.ndarray:
        """uint8 frames [len(indices), H, W, 3], from the store when it holds the video, else decoded."""
        if self.store is not None and path in self.store:
            return self.store.read(path, indices)
        with open_video(path) as reader:
            return reader.read(indices)


def _own_file(sample: Sample) -> list[str]:
    return [sample.path]


def collate_clips(items: list[dict]) -> dict:
    """Stack readable items; list the paths of the skipped ones."""
    good = [item for item in items if "skipped" not in item]
    skipped = [item["skipped"] for item in items if "skipped" in item]
    if not good:
        return {"clips": torch.empty(0), "labels": torch.empty(0, dtype=torch.long),
                "index": torch.empty(0, dtype=torch.long), "frames": torch.empty(0, dtype=torch.long),
                "paths": [], "skipped": skipped}
    return {"clips": torch.stack([g["clips"] for g in good]), "labels": torch.stack([g["labels"] for g in good]),
            "index": torch.tensor([g["index"] for g in good]), "frames": torch.stack([g["frames"] for g in good]),
            "paths": [g["path"] for g in good], "skipped": skipped}


class EpochShuffleSampler(Sampler):
    """A random order drawn from (seed, epoch), yielding (epoch, index) keys for :class:`VideoClipDataset`.

    Lightning calls ``set_epoch`` at the start of every epoch (plain loops call it themselves), so a resumed
    run sees exactly the order and augmentations an uninterrupted run would have seen.
    """

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
        generator = torch.Generator().manual_seed(seed)
        return iter([(self.epoch, i) for i in torch.randperm(self.size, generator=generator).tolist()])

    def __len__(self) -> int:
        return self.size


class ResumableOrder(Sampler):
    """An epoch order (a sampler with ``set_epoch``) whose next pass can start ``skip`` keys in."""

    def __init__(self, order: Sampler):
        self.order = order
        self.epoch = getattr(order, "epoch", 0)
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order.set_epoch(epoch)

    def __iter__(self):
        skip, self.skip = self.skip, 0
        return itertools.islice(iter(self.order), skip, None)

    def __len__(self) -> int:
        return len(self.order)


class ResumableLoader(DataLoader):
    """A loader over a :class:`ResumableOrder` whose position, {"epoch", "batches" taken in it}, Lightning saves in
    every checkpoint (``state_dict``) and ``vssl.app.resume.announce_resume`` restores before training
    (``load_state_dict``; Lightning skips its own restore, as the step count of the LR schedule sets the loader up
    first): a run resumed from a mid-epoch checkpoint continues with the next batch of that epoch, one resumed
    from an epoch-end checkpoint with the next epoch, with the keys an uninterrupted run draws, whenever Lightning
    creates the iterator. Its own ``generator`` seeds the workers, so creating an iterator never draws from the
    global torch RNG.
    Under DDP (Lightning wraps the order in a distributed sampler) only the epoch is restored."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.taken = 0

    def __getstate__(self) -> dict:
        """The generator travels as bytes: torch would share its state tensor through a file descriptor, which a
        process started by `ddp_spawn` cannot map (RuntimeError: unable to resize file)."""
        state = self.__dict__.copy()
        generator = state.pop("generator", None)
        state["generator_state"] = None if generator is None else bytes(generator.get_state().numpy())
        return state

    def __setstate__(self, state: dict) -> None:
        saved = state.pop("generator_state")
        self.__dict__.update(state)
        generator = None
        if saved is not None:
            generator = torch.Generator()
            generator.set_state(torch.frombuffer(bytearray(saved), dtype=torch.uint8))
        self.__dict__["generator"] = generator

    def __iter__(self):
        skip = self.sampler.skip if isinstance(self.sampler, ResumableOrder) else 0
        self.taken = skip // self.batch_size
        for batch in super().__iter__():
            self.taken += 1
            yield batch

    def state_dict(self) -> dict:
        return {"epoch": int(self.sampler.epoch), "batches": int(self.taken)}

    def load_state_dict(self, state: dict) -> None:
        finished = state["batches"] >= len(self)
        self.sampler.set_epoch(state["epoch"] + 1 if finished else state["epoch"])
        if isinstance(self.sampler, ResumableOrder):
            self.sampler.skip = 0 if finished else state["batches"] * self.batch_size
        self.taken = 0 if finished else state["batches"]


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, num_workers: int, drop_last: bool = False,
                seed: int = 0, order: Sampler | None = None, pin_memory: bool = False,
                resumable: bool = False) -> DataLoader:
    """Shuffled loaders use :class:`EpochShuffleSampler` (call ``loader.sampler.set_epoch`` outside Lightning),
    or ``order``: any sampler with ``set_epoch`` that yields (epoch, index) keys (e.g. a curriculum).
    ``pin_memory`` (for a CUDA consumer) puts batches in page-locked memory for asynchronous copies.
    ``resumable`` (shuffled only) returns a :class:`ResumableLoader` (pre-training)."""
    sampler = order if order is not None else EpochShuffleSampler(len(dataset), seed) if shuffle else None
    common = {"batch_size": batch_size, "num_workers": num_workers, "collate_fn": collate_clips,
              "drop_last": drop_last, "persistent_workers": num_workers > 0, "pin_memory": pin_memory}
    if resumable and sampler is not None:
        return ResumableLoader(dataset, sampler=ResumableOrder(sampler),
                               generator=torch.Generator().manual_seed(seed), **common)
    return DataLoader(dataset, sampler=sampler, **common)
