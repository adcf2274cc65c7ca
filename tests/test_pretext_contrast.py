"""Pretext-Contrast (Tao, Wang & Yamasaki 2022): VCOP's order loss plus the contrast of a tuple's clips, by hand, and
one epoch through `vssl pretrain`."""

import math

import pytest
import torch

from vssl.methods.pretext_contrast import PretextContrast, PretextContrastConfig
from vssl.models.registry import build_backbone
from conftest import one_epoch_losses


def test_the_loss_is_the_order_loss_plus_lambda_times_the_contrast(monkeypatch):
    """With the contrast weight 0 the loss is VCOP's cross-entropy alone; with weight 2 it grows by twice the
    contrast, computed independently from the same embeddings."""
    torch.manual_seed(0)
    backbone = build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1))
    config = PretextContrastConfig(contrast_weight=2.0, proj_hidden=16, hidden_dim=16, dropout=0.0)
    method = PretextContrast(backbone, config, None).eval()
    monkeypatch.setattr(method, "manual_backward", lambda loss: None)
    monkeypatch.setattr(method, "log_pretext", lambda *args: None)
    clips = torch.randn(2, 3, 3, 4, 24, 24)
    frames = torch.tensor([[[0, 1, 2, 3], [10, 11, 12, 13], [5, 6, 7, 8]]] * 2)
    batch = {"clips": clips, "frames": frames}
    total = float(method.train_batch(batch))
    method.config.contrast_weight = 0.0
    order_only = float(method.train_batch(batch))
    with torch.no_grad():
        embeddings = torch.nn.functional.normalize(method.projection(backbone(clips.flatten(0, 1))), dim=1).view(2, 3, -1)
        sims = torch.einsum("ad,bd->ab", embeddings.flatten(0, 1), embeddings.flatten(0, 1)) / 0.2
        contrast = []
        for query in range(6):
            video = query // 3
            positives = [j for j in range(6) if j // 3 == video and j != query]
            negatives = [j for j in range(6) if j // 3 != video]
            pos = torch.logsumexp(sims[query, positives], 0)
            contrast.append(float(torch.logsumexp(sims[query, positives + negatives], 0) - pos))
    assert total == pytest.approx(order_only + 2.0 * sum(contrast) / 6, rel=1e-4)


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path,
                              "pretext_contrast_world32", "method.proj_hidden=32", "method.gap=1")
    assert losses and all(math.isfinite(loss) for loss in losses)
