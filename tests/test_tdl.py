"""TDL (Wang, Jiao & Liu 2020): one clip per window, the within-video InfoNCE by hand, and one epoch through
`vssl pretrain`."""

import math

import numpy as np
import pytest
import torch

from vssl.methods.tdl import WindowSampler, tdl_loss
from conftest import one_epoch_losses


def test_one_clip_starts_in_each_window():
    """48 frames, clips of 8 at stride 2 (span 15): starts 0 … 33 cut into 4 windows of 8.5 starts."""
    sampler = WindowSampler(clip_len=8, stride=2, windows=4)
    rng = np.random.default_rng(0)
    seen = [set() for _ in range(4)]
    for _ in range(500):
        clips = sampler(48, 16.0, rng)
        assert len(clips) == 4 and all(len(c) == 8 and c[1] - c[0] == 2 and c[-1] <= 47 for c in clips)
        for w, clip in enumerate(clips):
            assert w * 8.5 <= clip[0] < (w + 1) * 8.5
            seen[w].add(clip[0])
    assert seen == [set(range(0, 9)), set(range(9, 17)), set(range(17, 26)), set(range(26, 34))]


def test_within_video_info_nce_by_hand():
    """One video, two windows at (1, 0) and (0, 1) in both views, τ = 1: each anchor has its positive at cosine 1
    and the other window at 0, so every term is −log(e / (e + 1)) = log(1 + 1/e)."""
    window = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    embeddings = torch.stack([window, window], dim=1)[None]  # [1, 2 windows, 2 views, 2]
    assert float(tdl_loss(embeddings, 1.0)) == pytest.approx(math.log(1 + 1 / math.e))


def test_cross_video_negatives_add_the_other_videos_clips_by_hand():
    """Two videos of two windows on the 4 unit axes, τ = 1: every anchor has its positive at cosine 1 and every
    other clip at 0: 1 window negative within its video, log(1 + 1/e); plus 4 clips of the other video,
    log(1 + 5/e)."""
    axes = torch.eye(4).view(2, 2, 4)  # video, window, d
    embeddings = torch.stack([axes, axes], dim=2)  # both views alike: [2, 2, 2, 4]
    assert float(tdl_loss(embeddings, 1.0)) == pytest.approx(math.log(1 + 1 / math.e))
    assert float(tdl_loss(embeddings, 1.0, cross_video_negatives=True)) == pytest.approx(math.log(1 + 5 / math.e))


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path, "tdl_world32", "method.proj_hidden=32", "method.windows=3")
    assert losses and all(math.isfinite(loss) for loss in losses)
