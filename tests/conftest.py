"""Shared fixtures: a very small synthetic benchmark written once per test session."""

import pytest
import torch

from vssl.data.synthetic import SynthConfig, generate

torch.set_num_threads(1)  # tiny models gain nothing from more threads; the loader's workers need the cores

MICRO = SynthConfig(name="micro", size=32, num_frames=24, fps=8.0,
                    counts={"pretrain": 16, "train": 16, "test": 16},
                    motion_classes=("horizontal", "vertical"), appearance_classes=("disk", "square"))


@pytest.fixture(scope="session")
def micro_manifest(tmp_path_factory):
    """Manifest of a 48-video synthetic benchmark (32×32 px, 24 frames at 8 fps)."""
    return generate(tmp_path_factory.mktemp("micro"), preset=MICRO, seed=0, workers=1, progress=False)
