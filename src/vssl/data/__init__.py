"""Video decoding, manifests, the synthetic benchmark, clip samplers, transforms and loaders.

Public API (imported on first use, so ``import vssl.data`` stays cheap): ``VideoReader`` and ``open_video``
(frame-accurate decoding), ``Sample``, ``read_manifest``, ``write_manifest``, ``synthesize`` (the synthetic
benchmark) and ``check`` (`vssl data check`: unreadable files and class counts per split).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

# public name → module that defines it
_LAZY = {
    "VideoReader": "vssl.data.video",
    "FrameDirReader": "vssl.data.video",
    "open_video": "vssl.data.video",
    "Sample": "vssl.data.manifest",
    "read_manifest": "vssl.data.manifest",
    "write_manifest": "vssl.data.manifest",
    "SynthConfig": "vssl.data.synthetic",
    "check": "vssl.data.check",
    "DataReport": "vssl.data.check",
}

__all__ = [*_LAZY, "synthesize"]


def task_generators() -> dict:
    """Preset name → generator of the task-shift benchmarks (untrimmed, repetition, multi-label, boxes) and of the
    RGB-depth pairs (world32_depth): each
    ``generator(out, preset=, seed=, progress=)`` writes videos, a manifest and its ground truth."""
    from vssl.data.synthetic_boxes import BOXES_PRESETS, generate_boxes
    from vssl.data.synthetic_depth import DEPTH_PRESETS, generate_depth
    from vssl.data.synthetic_multilabel import MULTILABEL_PRESETS, generate_multilabel
    from vssl.data.synthetic_repetition import REPETITION_PRESETS, generate_repetition
    from vssl.data.synthetic_skeleton import SKELETON_PRESETS, generate_skeleton  # .npy keypoints, not videos
    from vssl.data.synthetic_untrimmed import UNTRIMMED_PRESETS, generate_untrimmed

    return {name: generate for presets, generate in ((BOXES_PRESETS, generate_boxes),
                                                     (UNTRIMMED_PRESETS, generate_untrimmed),
                                                     (MULTILABEL_PRESETS, generate_multilabel),
                                                     (REPETITION_PRESETS, generate_repetition),
                                                     (DEPTH_PRESETS, generate_depth),
                                                     (SKELETON_PRESETS, generate_skeleton))
            for name in presets}


def synthesize(out: str | Path, preset="world32", seed: int = 0, workers: int | None = None,
               progress: bool = False) -> Path:
    """Write a synthetic benchmark (mp4 videos + manifest.csv) into ``out``; returns the manifest path.

    ``preset`` is a preset name (world32, world48, world64, world32_domain2, world32_fine, tiny, small, ...; the
    task-shift benchmarks world32_untrimmed, world32_repetition, world32_multilabel, world32_boxes; the RGB-depth
    pairs world32_depth) or a ``SynthConfig`` (e.g. a few videos for a test). The output depends only on (preset,
    seed).
    """
    from vssl.data.synthetic import generate

    task = task_generators().get(preset) if isinstance(preset, str) else None  # a SynthConfig is not hashable
    if task is not None:
        return task(out, preset=preset, seed=seed, progress=progress)
    return generate(out, preset=preset, seed=seed, workers=workers, progress=progress)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vssl.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
