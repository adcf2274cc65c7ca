"""Lightning checkpoint IO through vssl: atomic writes (``vssl.core.io``) and weights-only reads with one-line errors."""

from __future__ import annotations

from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from vssl.core.io import torch_save_atomic
from vssl.models.checkpoints import read_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """``last.ckpt`` and the epoch checkpoints are written to a temporary sibling and renamed into place, so a full
    disk or a kill mid-write leaves the previous checkpoint intact and no truncated file (a write error is an
    OutputError naming the file). A resumed checkpoint is read with ``torch.load(weights_only=True)`` only: a file
    that needs full pickle is refused with one line naming it."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        torch_save_atomic(checkpoint, path)

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(path)
