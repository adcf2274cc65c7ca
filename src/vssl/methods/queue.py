"""A FIFO queue of negative keys (MoCo, He et al. 2020), kept as two buffers so that checkpoints carry it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def register_queue(module: nn.Module, size: int, dim: int, name: str = "queue") -> None:
    """Buffers ``<name>`` (``size`` random unit keys of ``dim``) and ``<name>_pointer`` (the next slot) on ``module``."""
    module.register_buffer(name, F.normalize(torch.randn(size, dim), dim=1))
    module.register_buffer(f"{name}_pointer", torch.zeros((), dtype=torch.long))


@torch.no_grad()
def push_to_queue(queue: torch.Tensor, pointer: torch.Tensor, keys: torch.Tensor) -> None:
    """Write ``keys`` [N, D] at the pointer, wrapping around and overwriting the oldest entries (PySlowFast's
    MoCo [code]), and move the pointer past them; with more keys than slots only the last ``len(queue)`` are
    written, from the pointer on."""
    size = queue.shape[0]
    kept = keys[-size:]
    start = int(pointer)
    queue[(torch.arange(kept.shape[0], device=keys.device) + start) % size] = kept
    pointer.fill_((start + kept.shape[0]) % size)
