"""Exact resume of `vssl pretrain`: global random states in every checkpoint, mid-epoch checkpoints, resume point."""

from __future__ import annotations

import random
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from vssl.models.checkpoints import read_checkpoint


class RandomStates(L.Callback):
    """Saves the process's global random states (Python, NumPy, torch CPU and CUDA) in every checkpoint and restores
    them on resume, so what draws from them (dropout in VCOP and the supervised method) continues the stream of the
    uninterrupted run. Stored as tensors and plain numbers, so the checkpoint loads with ``weights_only=True``."""

    def state_dict(self) -> dict:
        name, keys, position, has_gauss, cached = np.random.get_state()
        state = {"python": random.getstate(), "torch": torch.get_rng_state(),
                 "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss),
                           float(cached)]}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        torch.set_rng_state(state["torch"])
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


def step_checkpoint(folder: Path, every_steps: int) -> ModelCheckpoint:
    """Rewrites ``folder/last.ckpt`` (and nothing else) every ``every_steps`` optimiser steps."""
    return ModelCheckpoint(dirpath=folder, every_n_train_steps=every_steps, save_top_k=0, save_last=True)


def resume_point(checkpoint: dict, batches_per_epoch: int) -> tuple[int, int, dict]:
    """(epoch, global step, loader position) a run resumed from ``checkpoint`` continues at. A checkpoint written
    before loader positions were saved is an epoch-end one (epoch ``checkpoint["epoch"]`` completed)."""
    states = checkpoint.get("loops", {}).get("fit_loop", {}).get("state_dict", {}).get("combined_loader") or []
    position = states[0] if states else {"epoch": int(checkpoint["epoch"]), "batches": batches_per_epoch}
    epoch = position["epoch"] + 1 if position["batches"] >= batches_per_epoch else position["epoch"]
    return epoch, int(checkpoint["global_step"]), position


def announce_resume(out: Path, path: Path, loader) -> None:
    """Print where the run resumes and put ``loader`` there, before the trainer sets it up (the trainer does not
    restore a loader it has already set up)."""
    epoch, step, position = resume_point(read_checkpoint(path), len(loader))
    loader.load_state_dict(position)
    print(f"resuming {out} from epoch {epoch}, step {step} ({path})", flush=True)
