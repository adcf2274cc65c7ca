"""Tests for the efficient 3D CNNs, the VideoMAE video ViT and Video Swin backbones."""

import math

import pytest
import torch

from vssl.core.errors import VsslError
from vssl.models.registry import build_backbone, count_parameters

# Importing the three modules registers their backbones.
from vssl.models.efficient3d import channel_shuffle
from vssl.models.swin3d import SwinBlock3D, effective_window, relative_position_index, shifted_window_mask
from vssl.models.vit import sinusoid_position_table

TINY_SHUFFLENET = {"width": 0.25, "depth": (1, 1, 1)}
TINY_VIT = {"width": 0.125, "depth": 2}  # 6 heads x 8 channels = 48
TINY_SWIN = {"width": 0.25, "depth": (1, 1, 1, 1), "window_size": (2, 4, 4)}  # 3 heads x 8 channels = 24


def full_size(name, **options):
    """The full-size backbone with its parameters on the meta device: shapes only, built in milliseconds."""
    with torch.device("meta"):
        return build_backbone(name, **options)


# ---------------------------------------------------------------- parameter counts


@pytest.mark.parametrize(
    ("name", "num_classes", "expected"),
    [
        # Summed by hand from the layer shapes (BN = 2 params per channel, 600 Kinetics-600 classes):
        # ShuffleNetV1 2.0x g3: stem 3,984 + stages 153,024 + 1,225,920 + 2,223,360; head 1920*600+600.
        ("shufflenet_v1_3d", 0, 3_606_288),
        ("shufflenet_v1_3d", 600, 4_758_888),
        # MobileNetV2 1.0x: stem 2,656, rows 1,472 + 18,288 + 49,200 + 208,064 + 330,816 + 840,192 + 491,200,
        # last conv 320*1280 + 2*1280 = 412,160; head 1280*600+600.
        ("mobilenet_v2_3d", 0, 2_354_048),
        ("mobilenet_v2_3d", 600, 3_122_648),
        # SqueezeNet 1.1: stem 5,376 + Fires 30,128 + 31,152 + 119,648 + 123,744 + 271,632 + 277,776
        # + 485,056 + 493,248 (conv biases included); classifier conv 512*600+600.
        ("squeezenet_3d", 0, 1_837_760),
        ("squeezenet_3d", 600, 2_145_560),
        # ViT-B/16 video: tubelet conv 768*3*2*16*16+768 = 1,180,416; 12 blocks of 7,087,104
        # (norms 3,072, qkv 3*768^2, q/v biases 1,536, proj 768^2+768, MLP 2*768*3072+3072+768); fc_norm 1,536.
        ("vit_b16", 0, 86_227_200),
        ("vit_b16", 400, 86_534_800),
        # ViT-S/16 video: tubelet conv 590,208; 12 blocks of 1,774,080; fc_norm 768.
        ("vit_s16", 0, 21_879_936),
        ("vit_s16", 400, 22_033_936),
        # Swin-T: patch embed 9,216+96+192; blocks 12C^2+13C+2535*heads: 2x119,445, 2x460,074, 6x1,804,884,
        # 2x7,148,712; merging 8C^2+8C: 74,496, 296,448, 1,182,720; final norm 1,536.
        ("swin3d_t", 0, 27_850_470),
        ("swin3d_t", 400, 28_158_070),
    ],
)
def test_parameter_counts_derived_from_layer_shapes(name, num_classes, expected):
    assert count_parameters(full_size(name, num_classes=num_classes)) == expected


@pytest.mark.parametrize(
    ("name", "num_classes", "published_millions", "tolerance"),
    [
        # Köpüklü et al. 2019 (arXiv:1904.02422), Kinetics-600 results table: 3.12M and 2.15M match to
        # the printed rounding.
        ("mobilenet_v2_3d", 600, 3.12, 0.005),
        ("squeezenet_3d", 600, 2.15, 0.005),
        # The same table as quoted for ShuffleNetV1 2.0x (4.78M) could not be confirmed offline; the
        # authors' code (Efficient-3DCNNs models/shufflenet.py, which this module reproduces output for
        # output) gives 4,758,888 = 4.76M, so the check allows 0.5%.
        ("shufflenet_v1_3d", 600, 4.78, 0.025),
        # Liu et al. 2022 (Video Swin), Table 1: Swin-T 28.2M with the Kinetics-400 head.
        ("swin3d_t", 400, 28.2, 0.05),
        # Tong et al. 2022 (VideoMAE), Kinetics-400 comparison: ViT-B 87M, ViT-S 22M (with the head).
        ("vit_b16", 400, 87, 0.5),
        ("vit_s16", 400, 22, 0.5),
    ],
)
def test_parameter_counts_match_published_rounded_figures(name, num_classes, published_millions, tolerance):
    millions = count_parameters(full_size(name, num_classes=num_classes)) / 1e6
    assert abs(millions - published_millions) <= tolerance


def test_vit_b16_count_agrees_with_the_image_vit():
    # Image ViT-B/16 has 86,567,656 parameters (Dosovitskiy et al. 2021; timm vit_base_patch16_224).
    image_vit = 86_567_656
    without_image_parts = image_vit - (768 * 1000 + 1000) - 768 - 197 * 768 - 12 * 768  # head, cls, pos, k biases
    with_tubelet = without_image_parts + 768 * 3 * 16 * 16  # the conv kernel's second frame
    assert count_parameters(full_size("vit_b16")) == with_tubelet


# ---------------------------------------------------------------- interface and shapes


@pytest.mark.parametrize(
    ("name", "options", "clip", "expected"),
    [
        # Stem 3x3x3 stride (1,2,2), max-pool stride 2; each stage halves T, H and W.
        ("shufflenet_v1_3d", TINY_SHUFFLENET, (1, 3, 16, 64, 64), {
            "stem": (1, 6, 8, 16, 16), "layer1": (1, 60, 4, 8, 8), "layer2": (1, 120, 2, 4, 4),
            "layer3": (1, 240, 1, 2, 2), "pool": (1, 240)}),
        # int(c/4) channels; stride-2 rows (c24, c32, c64, c160) halve T, H and W; last conv stays 1280.
        ("mobilenet_v2_3d", {"width": 0.25}, (1, 3, 16, 64, 64), {
            "stem": (1, 8, 16, 32, 32), "layer1": (1, 6, 8, 16, 16), "layer2": (1, 8, 4, 8, 8),
            "layer3": (1, 24, 2, 4, 4), "layer4": (1, 80, 1, 2, 2), "conv_last": (1, 1280, 1, 2, 2),
            "pool": (1, 1280)}),
        # Fire outputs 2 * expand channels; max-pools of stride 2 open stages 2-4.
        ("squeezenet_3d", {"width": 0.25}, (1, 3, 16, 64, 64), {
            "stem": (1, 16, 8, 16, 16), "layer1": (1, 32, 8, 16, 16), "layer2": (1, 64, 4, 8, 8),
            "layer3": (1, 96, 2, 4, 4), "layer4": (1, 128, 1, 2, 2), "pool": (1, 128)}),
        # 2x16x16 tubelets of a 4x32x48 clip: 2 * 2 * 3 = 12 tokens of 48 channels.
        ("vit_s16", TINY_VIT, (2, 3, 4, 32, 48), {
            "embed": (2, 12, 48), "block1": (2, 12, 48), "block2": (2, 12, 48), "pool": (2, 48)}),
        # 2x4x4 patches: 4x16x16 tokens of C = 24; merging halves H and W and doubles C; time is kept.
        ("swin3d_t", TINY_SWIN, (1, 3, 8, 64, 64), {
            "embed": (1, 24, 4, 16, 16), "stage1": (1, 24, 4, 16, 16), "stage2": (1, 48, 4, 8, 8),
            "stage3": (1, 96, 4, 4, 4), "stage4": (1, 192, 4, 2, 2), "pool": (1, 192)}),
    ],
)
def test_tap_names_and_shapes(name, options, clip, expected):
    model = build_backbone(name, **options).eval()
    assert model.tap_names == tuple(expected)
    assert model.feature_dim == expected["pool"][1]
    with torch.no_grad():
        taps = model.features(torch.randn(clip), taps=model.tap_names)
        pooled = model(torch.randn(clip))
    assert {tap: tuple(output.shape) for tap, output in taps.items()} == expected
    assert tuple(pooled.shape) == expected["pool"]


@pytest.mark.parametrize(
    ("name", "default_input", "feature_dim"),
    [("shufflenet_v1_3d", (16, 112), 1920), ("mobilenet_v2_3d", (16, 112), 1280), ("squeezenet_3d", (16, 112), 512),
     ("vit_s16", (16, 224), 384), ("vit_b16", (16, 224), 768), ("swin3d_t", (32, 224), 768)],
)
def test_default_input_and_feature_dim(name, default_input, feature_dim):
    model = full_size(name)
    assert model.default_input == default_input
    assert model.feature_dim == feature_dim
    assert model.tap_names[-1] == "pool"


@pytest.mark.parametrize(
    ("name", "options", "clip"),
    [
        ("shufflenet_v1_3d", TINY_SHUFFLENET, (2, 3, 16, 64, 64)),
        ("mobilenet_v2_3d", {"width": 0.25, "depth": (1, 1, 1, 1, 1, 1, 1)}, (2, 3, 16, 32, 32)),
        ("squeezenet_3d", {"width": 0.25}, (2, 3, 16, 32, 32)),
        ("vit_b16", {"width": 0.125, "depth": 2}, (2, 3, 4, 32, 32)),
        ("swin3d_t", TINY_SWIN, (1, 3, 8, 64, 64)),
    ],
)
def test_tiny_forward_backward_reaches_every_parameter(name, options, clip):
    torch.manual_seed(0)
    model = build_backbone(name, **options, num_classes=5)
    logits = model(torch.randn(clip))  # training mode: batch statistics, dropout, drop path
    assert tuple(logits.shape) == (clip[0], 5)
    logits.logsumexp(dim=1).sum().backward()
    assert all(parameter.grad is not None for parameter in model.parameters())
    # In training mode a BN shift that feeds a conv and another BN has an exactly zero gradient, so
    # whether every parameter matters is checked with the running statistics (evaluation mode).
    model.zero_grad()
    model.eval()(torch.randn(clip)).logsumexp(dim=1).sum().backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad.abs().sum() > 0, parameter_name


@pytest.mark.parametrize(
    ("name", "options", "clip", "shallow", "deep_module"),
    [
        ("vit_s16", TINY_VIT, (1, 3, 2, 16, 16), "block1", lambda model: model.blocks[1]),
        ("swin3d_t", TINY_SWIN, (1, 3, 2, 32, 32), "stage1", lambda model: model.layers[1]),
        ("squeezenet_3d", {"width": 0.25}, (1, 3, 16, 32, 32), "layer1", lambda model: model.blocks[-1]),
    ],
)
def test_features_stops_after_deepest_requested_tap(name, options, clip, shallow, deep_module):
    model = build_backbone(name, **options).eval()
    calls = []
    deep_module(model).register_forward_hook(lambda *args: calls.append(1))
    assert list(model.features(torch.randn(clip), taps=(shallow,))) == [shallow]
    assert calls == []
    model.features(torch.randn(clip), taps=("pool",))
    assert calls == [1]


# ---------------------------------------------------------------- efficient 3D CNNs


def test_channel_shuffle_interleaves_groups():
    channels = torch.arange(6.0).view(1, 6, 1, 1, 1)
    assert channel_shuffle(channels, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(channels, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_shufflenet_state_dict_follows_efficient_3dcnns():
    wide = full_size("shufflenet_v1_3d", num_classes=600).state_dict()
    assert wide["conv1.0.weight"].shape == (48, 3, 3, 3, 3)
    # 2.0x: 48 stem channels, so the first 1x1x1 conv is grouped (48/3 inputs per group) like the rest.
    assert wide["layer1.0.conv1.weight"].shape == (120, 16, 1, 1, 1)
    assert wide["layer1.0.conv2.weight"].shape == (120, 1, 3, 3, 3)  # depthwise
    assert wide["layer1.0.conv3.weight"].shape == (432, 40, 1, 1, 1)  # 480 - 48 concatenated shortcut channels
    assert wide["layer3.3.bn3.running_var"].shape == (1920,)
    assert wide["classifier.1.weight"].shape == (600, 1920)
    # 1.0x: the 24 stem channels feed an ungrouped first 1x1x1 conv (Zhang et al. 2018, Sec. 3.3).
    narrow = full_size("shufflenet_v1_3d", width=1.0).state_dict()
    assert narrow["layer1.0.conv1.weight"].shape == (60, 24, 1, 1, 1)
    assert not any(key.startswith("classifier") for key in narrow)


def test_squeezenet_classifier_is_a_rectified_class_map():
    model = build_backbone("squeezenet_3d", width=0.25, num_classes=4).eval()
    state = model.state_dict()
    assert state["classifier.1.weight"].shape == (4, 128, 1, 1, 1)
    assert state["blocks.5.expand3x3.weight"].shape == (16, 4, 3, 3, 3)  # Fire 3: squeeze 16/4, expand 64/4
    with torch.no_grad():
        assert (model(torch.randn(3, 3, 16, 32, 32)) >= 0).all()


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("shufflenet_v1_3d", {"groups": 5}, "groups=5"),
        ("shufflenet_v1_3d", {"width": 0.3}, "width=0.3"),  # int(24 * 0.3) = 7 stem channels, not /3
        ("shufflenet_v1_3d", {"depth": (4, 8)}, "depth"),
        ("mobilenet_v2_3d", {"width": 0}, "width"),
        ("mobilenet_v2_3d", {"depth": (1, 2, 3)}, "depth"),
        ("squeezenet_3d", {"num_classes": -1}, "num_classes"),
        ("vit_b16", {"depth": 0}, "depth"),
        ("vit_s16", {"drop_path_rate": 1.5}, "drop_path_rate"),
        ("swin3d_t", {"window_size": (8, 7)}, "window_size"),
        ("swin3d_t", {"depth": (2, 2, 6)}, "depth"),
    ],
)
def test_invalid_options_are_rejected(name, options, message):
    with pytest.raises(VsslError, match=message):
        build_backbone(name, **options)


# ---------------------------------------------------------------- video ViT


def test_vit_state_dict_uses_videomae_names():
    state = full_size("vit_b16", num_classes=400).state_dict()
    assert state["patch_embed.proj.weight"].shape == (768, 3, 2, 16, 16)
    assert state["blocks.0.attn.qkv.weight"].shape == (2304, 768)
    assert state["blocks.0.attn.q_bias"].shape == state["blocks.0.attn.v_bias"].shape == (768,)
    assert "blocks.0.attn.qkv.bias" not in state  # keys get no bias, as in VideoMAE
    assert state["blocks.11.norm1.weight"].shape == (768,)
    assert state["blocks.11.mlp.fc1.weight"].shape == (3072, 768)
    assert state["fc_norm.weight"].shape == (768,)
    assert state["head.weight"].shape == (400, 768)
    assert "pos_embed" not in state  # fixed, not learned
    assert not any(key.startswith("head") for key in full_size("vit_s16").state_dict())


def test_sinusoid_position_table_values():
    table = sinusoid_position_table(6, 8)
    # Column 2i holds sin(p / 10000^(2i/8)), column 2i+1 the cosine of the same angle.
    assert torch.equal(table[0], torch.tensor([0.0, 1.0] * 4))
    assert table[3, 0].item() == pytest.approx(math.sin(3))
    assert table[3, 1].item() == pytest.approx(math.cos(3))
    assert table[5, 4].item() == pytest.approx(math.sin(5 / 100))  # 10000^(4/8) = 100
    assert table[5, 5].item() == pytest.approx(math.cos(5 / 100))
    assert table[2, 6].item() == pytest.approx(math.sin(2 / 10000**0.75))


def test_vit_with_every_token_visible_equals_the_full_model():
    torch.manual_seed(0)
    model = build_backbone("vit_s16", **TINY_VIT, num_classes=3).eval()
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(clip, visible_mask=torch.ones(2, 8, dtype=torch.bool)), model(clip), atol=1e-6)


def test_vit_on_the_first_frames_tokens_equals_the_shorter_clip():
    # Tokens are ordered (t, h, w) and positions index that order, so keeping the tokens of the first
    # tubelet slice is the same as feeding only its two frames.
    torch.manual_seed(0)
    model = build_backbone("vit_s16", **TINY_VIT).eval()
    clip = torch.randn(2, 3, 4, 32, 48)
    first_slice = torch.zeros(2, 12, dtype=torch.bool)
    first_slice[:, :6] = True
    with torch.no_grad():
        tokens = model.encode(clip, visible_mask=first_slice)
        assert tuple(tokens.shape) == (2, 6, 48)
        assert torch.allclose(tokens, model.encode(clip[:, :, :2]), atol=1e-5)
        assert torch.allclose(model(clip, visible_mask=first_slice), model(clip[:, :, :2]), atol=1e-5)


def test_vit_masks_may_differ_per_clip_with_equal_counts():
    torch.manual_seed(0)
    model = build_backbone("vit_s16", **TINY_VIT).eval()
    clip = torch.randn(2, 3, 4, 32, 32)
    visible = torch.tensor([[1, 0, 0, 1, 0, 1, 0, 0], [0, 1, 1, 0, 0, 0, 0, 1]], dtype=torch.bool)
    with torch.no_grad():
        pooled = model(clip, visible_mask=visible)
        assert tuple(model.encode(clip, visible_mask=visible).shape) == (2, 3, 48)
        for row in range(2):
            alone = model(clip[row : row + 1], visible_mask=visible[row : row + 1])
            assert torch.allclose(pooled[row : row + 1], alone, atol=1e-5)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (torch.tensor([[1, 1, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]], dtype=torch.bool), r"\[2, 1\]"),
        (torch.ones(2, 7, dtype=torch.bool), r"shape \(2, 8\)"),
        (torch.ones(2, 8), "bool"),
    ],
)
def test_vit_rejects_bad_visible_masks(mask, message):
    model = build_backbone("vit_s16", **TINY_VIT)
    with pytest.raises(VsslError, match=message):
        model(torch.randn(2, 3, 4, 32, 32), visible_mask=mask)


def test_vit_rejects_clips_not_divisible_into_tubelets():
    with pytest.raises(VsslError, match=r"\(1, 3, 3, 32, 32\)"):
        build_backbone("vit_s16", **TINY_VIT)(torch.randn(1, 3, 3, 32, 32))


# ---------------------------------------------------------------- Video Swin


def test_swin_state_dict_uses_video_swin_names():
    state = full_size("swin3d_t", num_classes=400).state_dict()
    assert state["patch_embed.proj.weight"].shape == (96, 3, 2, 4, 4)
    assert state["patch_embed.norm.weight"].shape == (96,)
    assert state["layers.0.blocks.1.attn.relative_position_bias_table"].shape == (15 * 13 * 13, 3)
    assert state["layers.0.blocks.1.attn.relative_position_index"].shape == (392, 392)
    assert state["layers.2.blocks.5.attn.qkv.bias"].shape == (1152,)
    assert state["layers.2.downsample.reduction.weight"].shape == (768, 1536)
    assert state["layers.2.downsample.norm.weight"].shape == (1536,)
    assert not any(key.startswith("layers.3.downsample") for key in state)
    assert state["norm.weight"].shape == (768,)
    assert state["head.weight"].shape == (400, 768)


def test_effective_window_shrinks_to_short_axes_and_stops_their_shift():
    assert effective_window((4, 16, 3), (8, 7, 7), (4, 3, 3)) == ((4, 7, 3), (0, 3, 0))
    assert effective_window((16, 56, 56), (8, 7, 7), (4, 3, 3)) == ((8, 7, 7), (4, 3, 3))


def test_relative_position_index_of_a_small_window():
    # Window (1,2,2): tokens (h,w) = (0,0),(0,1),(1,0),(1,1); table 1x3x3, row (dh+1)*3 + (dw+1).
    assert relative_position_index((1, 2, 2)).tolist() == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]
    # Window (2,1,1): table 3x1x1, row dd+1.
    assert relative_position_index((2, 1, 1)).tolist() == [[1, 0], [2, 1]]


def test_shifted_window_mask_of_a_4x4_map():
    # 4x4 map rolled by (1,1), windows 2x2. Rows and columns split into regions {0,1}, {2}, {3}.
    mask = shifted_window_mask((1, 4, 4), (1, 2, 2), (0, 1, 1))
    o, x = 0.0, -100.0
    expected = torch.tensor([
        # Window rows 0-1, columns 0-1: one region.
        [[o, o, o, o], [o, o, o, o], [o, o, o, o], [o, o, o, o]],
        # Rows 0-1, columns 2-3: tokens (0,2),(0,3),(1,2),(1,3) in column regions A, B, A, B.
        [[o, x, o, x], [x, o, x, o], [o, x, o, x], [x, o, x, o]],
        # Rows 2-3, columns 0-1: row regions A, A, B, B.
        [[o, o, x, x], [o, o, x, x], [x, x, o, o], [x, x, o, o]],
        # Rows 2-3, columns 2-3: four regions.
        [[o, x, x, x], [x, o, x, x], [x, x, o, x], [x, x, x, o]],
    ])
    assert torch.equal(mask, expected)


def _attended_positions(block, mask, position):
    """Input positions (h, w) whose value changes the block's output at ``position`` of a 1x4x4 map."""
    x = torch.randn(1, 1, 4, 4, 8, requires_grad=True)
    block(x, mask)[0, 0, position[0], position[1]].sum().backward()
    influence = x.grad.abs().sum(dim=-1)[0, 0]
    # Masked pairs keep a weight of about exp(-100), not exactly 0, as in the original.
    attended = influence > 1e-6 * influence.max()
    return {(row, column) for row in range(4) for column in range(4) if attended[row, column]}


def test_shifted_window_block_attends_within_unrolled_regions_only():
    torch.manual_seed(0)
    block = SwinBlock3D(dim=8, num_heads=2, window=(1, 2, 2), shift=(0, 1, 1), drop_path=0.0)
    mask = shifted_window_mask((1, 4, 4), (1, 2, 2), (0, 1, 1))
    # Rolled by -1, the windows cover rows/columns {1,2} and {3,0}; the mask splits the wrapped pairs.
    assert _attended_positions(block, mask, (1, 1)) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert _attended_positions(block, mask, (0, 1)) == {(0, 1), (0, 2)}
    assert _attended_positions(block, mask, (3, 2)) == {(3, 1), (3, 2)}
    assert _attended_positions(block, mask, (0, 0)) == {(0, 0)}
    assert _attended_positions(block, mask, (3, 3)) == {(3, 3)}
    # Without the mask the wrapped-around corners would share a window.
    assert _attended_positions(block, None, (0, 0)) == {(0, 0), (0, 3), (3, 0), (3, 3)}
