"""`EncoderSpec`: the one record of an encoder: backbone and options, the clips it was trained on, their normalisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from vssl.core.errors import VsslError
from vssl.data.modality import check_modality
from vssl.data.transforms import KINETICS_MEAN, KINETICS_STD
from vssl.models.registry import build_backbone

SPEC_KEYS = ("backbone", "kwargs", "clip_len", "stride", "crop_size", "mean", "std", "modality")


def _as_tuples(value: Any) -> Any:
    """Lists (as YAML and JSON give them) → tuples, recursively: the one form backbones and comparisons see."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _as_lists(value: Any) -> Any:
    """Tuples → lists, recursively: the JSON-safe form written to files and hashed into keys."""
    return [_as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class EncoderSpec:
    """How to rebuild an encoder and feed it: ``build_backbone(backbone, **kwargs)``, the clip geometry it was
    pre-trained on (frames, stride, crop size; None when unknown, e.g. a random init or another tool's file) and the
    per-channel normalisation of its input (PySlowFast's Kinetics statistics unless a checkpoint says otherwise) and
    its input modality (:mod:`vssl.data.modality`: rgb, flow or depth; files without one are RGB)."""

    backbone: str
    kwargs: dict = field(default_factory=dict)
    clip_len: int | None = None
    stride: int | None = None
    crop_size: int | None = None
    mean: tuple[float, ...] = KINETICS_MEAN
    std: tuple[float, ...] = KINETICS_STD
    modality: str = "rgb"

    def __post_init__(self):
        check_modality(self.modality, "encoder spec modality")
        object.__setattr__(self, "kwargs", {k: _as_tuples(v) for k, v in self.kwargs.items() if v is not None})
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def build(self) -> nn.Module:
        """A freshly initialised backbone (draws from torch's global RNG)."""
        return build_backbone(self.backbone, **self.kwargs)

    def to_dict(self) -> dict:
        """JSON-safe form, as stored in ``encoder.pt`` and in Lightning checkpoints."""
        payload = {"backbone": self.backbone, "kwargs": _as_lists(self.kwargs), "clip_len": self.clip_len,
                   "stride": self.stride, "crop_size": self.crop_size, "mean": list(self.mean), "std": list(self.std)}
        return payload if self.modality == "rgb" else payload | {"modality": self.modality}  # RGB files as before

    @classmethod
    def from_dict(cls, payload: dict, source: str = "spec") -> EncoderSpec:
        """The spec of ``to_dict``, or of files written before it existed (``backbone`` + ``backbone_kwargs``)."""
        if not isinstance(payload, dict) or not isinstance(payload.get("backbone"), str):
            raise VsslError(f"{source}: an encoder spec needs a 'backbone' name, got {payload!r:.80}")
        if "backbone_kwargs" in payload:  # vssl-encoder-v1 and its Lightning checkpoints
            return cls(payload["backbone"], dict(payload["backbone_kwargs"]))
        unknown = sorted(set(payload) - set(SPEC_KEYS))
        if unknown:
            raise VsslError(f"{source}: unknown encoder spec key(s) {', '.join(unknown)} (known: {', '.join(SPEC_KEYS)})")
        return cls(**{k: payload[k] for k in SPEC_KEYS if k in payload})

    def normalisation_is_default(self) -> bool:
        return self.mean == KINETICS_MEAN and self.std == KINETICS_STD
