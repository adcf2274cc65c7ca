"""Input modalities of an encoder (RGB, optical flow, depth): which file a clip is read from, how it is encoded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from vssl.core.errors import ConfigError, VsslError
from vssl.data.manifest import DEPTH_COLUMN, Sample
from vssl.data.transforms import KINETICS_MEAN, KINETICS_STD, Compose, Normalize, VideoTransform

MODALITIES = ("rgb", "flow", "depth")
# The file each modality's frames come from: flow is computed from the RGB frames of the clip itself. Every modality
# is a 3-channel clip (depth in all three, as Thoker 2023 §2.4.3 feeds 3×16×112² depth clips to its 3D-ResNet18;
# flow as u, v and magnitude), so that every vssl backbone takes it as it is.
SOURCES = {"rgb": "rgb", "flow": "rgb", "depth": "depth"}


def check_modality(modality: str, key: str) -> str:
    """``modality`` when it is one of MODALITIES; else a ConfigError naming ``key``."""
    if modality not in MODALITIES:
        raise ConfigError(f"{key}={modality!r}: expected one of {', '.join(MODALITIES)}")
    return modality


class ModalityFiles:
    """Sample → the files its clips are read from: one per source of ``modalities`` (in order, each once), whose
    frames a :class:`~vssl.data.loader.VideoClipDataset` stacks on the channel axis (3 channels per file)."""

    def __init__(self, manifest: str | Path, modalities: Sequence[str]):
        self.root = Path(manifest).parent
        self.sources = list(dict.fromkeys(SOURCES[check_modality(m, "modality")] for m in modalities))

    def group(self, modality: str) -> int:
        """Position of ``modality``'s file among a sample's files (its channels 3·g … 3·g + 2)."""
        return self.sources.index(SOURCES[modality])

    def __call__(self, sample: Sample) -> list[str]:
        return [sample.path if source == "rgb" else self.depth_path(sample) for source in self.sources]

    def check(self, samples: Sequence[Sample]) -> None:
        """Raise before any clip is read when a sample lacks a file it needs (the depth column)."""
        if "depth" in self.sources:
            for sample in samples:
                self.depth_path(sample)

    def depth_path(self, sample: Sample) -> str:
        if DEPTH_COLUMN not in sample.labels:
            raise VsslError(f"{sample.path}: no '{DEPTH_COLUMN}' column naming its depth video in the manifest "
                            f"(e.g. `vssl data synth --preset world32_depth --out DIR`)")
        path = Path(sample.labels[DEPTH_COLUMN])
        return str(path if path.is_absolute() else self.root / path)


def modality_step(modality: str, mean: Sequence[float] = KINETICS_MEAN,
                  std: Sequence[float] = KINETICS_STD):
    """The last step of a clip of ``modality`` after the spatial ones: normalisation by ``mean``/``std`` (RGB;
    depth as a grayscale clip), or optical flow in place of it."""
    if check_modality(modality, "modality") == "flow":
        from vssl.data.optical_flow import OpticalFlow  # OpenCV loads only where flow is computed

        return OpticalFlow()
    return Normalize(mean, std)


def for_modality(transform: Compose, modality: str) -> Compose:
    """An RGB recipe (spatial steps, colour, normalisation) made a ``modality`` one: flow replaces normalisation by
    optical flow at the end, after every spatial step (multi-crop views included); RGB and depth keep it."""
    if check_modality(modality, "modality") != "flow":
        return transform
    return Compose([t for t in transform.transforms if not isinstance(t, Normalize)] + [modality_step("flow")])


class ModalityViews(VideoTransform):
    """Paired views of one clip: files' frames stacked on channels [3·G, T, H, W] (after shared spatial steps) →
    [M, 3, T, H, W], view m made from file group ``groups[m]`` by ``steps[m]`` (see :func:`modality_step`)."""

    def __init__(self, groups: Sequence[int], steps: Sequence):
        self.groups, self.steps = list(groups), list(steps)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.stack([step(video[3 * g: 3 * g + 3], generator) for g, step in zip(self.groups, self.steps)])
