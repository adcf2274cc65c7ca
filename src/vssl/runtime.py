"""Process-level settings for CPU runs: thread counts next to data workers, quieter Lightning logs."""

from __future__ import annotations

import logging
import os
import warnings

import torch


def share_cpu_with_workers(num_workers: int) -> None:
    """Leave one core per data worker: more compute threads than free cores slows CPU training down."""
    torch.set_num_threads(max(1, (os.cpu_count() or 1) - num_workers))


def quiet_lightning() -> None:
    """Drop Lightning's start-up banners and tips; warnings that matter still print."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
