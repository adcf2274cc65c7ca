"""VideoMAE (Tong et al. 2022): tube masks, per-patch normalised pixel targets by hand, an encoder blind to what it
masks, and one epoch through `vssl pretrain`."""

import math

import pytest
import torch

from vssl.core.errors import ConfigError
from vssl.data.transforms import KINETICS_MEAN, KINETICS_STD
from vssl.methods.videomae import Decoder, VideoMAE, VideoMAEConfig, patch_targets, tube_mask
from vssl.models.registry import build_backbone
from conftest import one_epoch_losses


def test_a_tube_mask_hides_the_same_positions_in_every_slice():
    generator = torch.Generator().manual_seed(0)
    mask = tube_mask(batch=3, frames=4, positions=16, ratio=0.9, generator=generator)
    assert mask.shape == (3, 64)
    slices = mask.view(3, 4, 16)
    assert (slices == slices[:, :1]).all()  # a tube: one spatial pattern through time
    assert (slices[:, 0].sum(dim=1) == int(0.9 * 16)).all()  # 14 of 16 hidden
    assert not (slices[0, 0] == slices[1, 0]).all() or not (slices[0, 0] == slices[2, 0]).all()
    with pytest.raises(ConfigError, match="hides none of the 1 token"):
        tube_mask(1, 2, 1, 0.9, generator)  # 16² crops: one position per frame


def normalised(pixels: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(KINETICS_MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(KINETICS_STD).view(1, 3, 1, 1, 1)
    return (pixels - mean) / std


def test_targets_are_each_tokens_pixels_in_t_h_w_order():
    """A 2×16×32 clip is 2 tokens side by side; pixel (c, t, y, x) of token 1 is pixel (c, t, y, 16 + x) of the clip,
    stored at ((t·16 + y)·16 + x)·3 + c."""
    pixels = torch.rand(1, 3, 2, 16, 32, generator=torch.Generator().manual_seed(1))
    targets = patch_targets(normalised(pixels), normalise=False)
    assert targets.shape == (1, 2, 2 * 16 * 16 * 3)
    for c, t, y, x in ((0, 0, 0, 0), (2, 1, 5, 7), (1, 1, 15, 15)):
        assert float(targets[0, 1, ((t * 16 + y) * 16 + x) * 3 + c]) == pytest.approx(float(pixels[0, c, t, y, 16 + x]),
                                                                                       abs=1e-6)


def test_normalised_targets_by_hand():
    """One token whose red channel holds 0 or 1 on alternate frames (256 of each): mean 0.5, unbiased std
    √(512 · 0.25 / 511); the normalised values are ±0.5 / that std."""
    pixels = torch.zeros(1, 3, 2, 16, 16)
    pixels[0, 0, 1] = 1.0
    targets = patch_targets(normalised(pixels), normalise=True).view(1, 1, 2, 16, 16, 3)
    std = math.sqrt(512 * 0.25 / 511)
    assert float(targets[0, 0, 0, 0, 0, 0]) == pytest.approx(-0.5 / (std + 1e-6), rel=1e-4)
    assert float(targets[0, 0, 1, 3, 4, 0]) == pytest.approx(0.5 / (std + 1e-6), rel=1e-4)
    assert float(targets[0, 0, 0, 0, 0, 1].abs()) < 1e-3  # a flat channel stays at 0


def test_the_encoder_never_sees_the_masked_tokens_and_the_decoder_predicts_only_them():
    torch.manual_seed(0)
    encoder = build_backbone("vit_s16", width=0.25, depth=2).eval()
    clips = torch.randn(2, 3, 4, 32, 32)
    mask = tube_mask(2, 2, 4, 0.75, torch.Generator().manual_seed(3))  # 3 of 4 positions hidden
    hidden_pixels = clips.clone()
    for b in range(2):
        for token in mask[b].nonzero().flatten().tolist():
            t, p = divmod(token, 4)
            y, x = divmod(p, 2)
            hidden_pixels[b, :, 2 * t:2 * t + 2, 16 * y:16 * y + 16, 16 * x:16 * x + 16] = 9.0
    with torch.no_grad():
        seen = encoder.encode(clips, ~mask)
        assert torch.equal(seen, encoder.encode(hidden_pixels, ~mask))
        decoder = Decoder(encoder.feature_dim, VideoMAEConfig(decoder_dim=32, decoder_depth=1, decoder_heads=4))
        assert decoder(seen, mask).shape == (2, 6, 2 * 16 * 16 * 3)  # 6 hidden tokens of 8 per clip


def test_settings_and_their_errors():
    assert VideoMAEConfig().mask_ratio == 0.9 and VideoMAEConfig(complexity="C3").mask_ratio == 0.95
    with pytest.raises(ConfigError, match="complexity"):
        VideoMAEConfig(complexity="C9")
    with pytest.raises(ConfigError, match="video ViT"):
        VideoMAE(build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1)), VideoMAEConfig(), None)


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path, "videomae_tiny", "model.depth=[1]", "data.crop_size=32",
                              "data.short_side=[32,36]", "method.decoder_dim=16", "method.decoder_heads=2")
    assert losses and all(math.isfinite(loss) for loss in losses)
