"""Arrow of time (Thoker 2023 Ch. 4, SEVERE's task shift; Wei et al. 2018): is a clip played forwards or backwards?

Every video is seen twice, as ``frames`` frames spread linearly over it, once forwards (label 0) and once reversed
(label 1), so the task is balanced and the same videos serve every encoder. Scored by a linear probe on frozen
features or by fine-tuning, binary top-1.
"""

from __future__ import annotations

import numpy as np

FRAMES = 8  # 8 linearly sampled frames (Thoker 2023, Table C.4)
DIRECTIONS = ("forward", "backward")


class LinearFramesSampler:
    """One clip of ``frames`` frame indices spread evenly from the first frame to the last (rounded), reversed when
    ``backward``; ``rng`` is ignored."""

    num_clips = 1

    def __init__(self, frames: int = FRAMES, backward: bool = False):
        self.frames, self.backward = frames, backward

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator | None = None) -> list[list[int]]:
        indices = np.floor(np.linspace(0, num_frames - 1, self.frames) + 0.5).astype(int).tolist()
        return [indices[::-1] if self.backward else indices]

    def key(self) -> dict:
        """What identifies these views in the feature cache."""
        return {"arrow_of_time": DIRECTIONS[self.backward], "frames": self.frames}
