"""Tests for the video ResNet backbones and the backbone registry."""

import pytest
import torch

from vssl.core.errors import VsslError
from vssl.models.registry import build_backbone, count_parameters, list_backbones

TINY = {"width": 0.25, "depth": (1, 1, 1, 1)}


@pytest.mark.parametrize(
    ("name", "num_classes", "expected"),
    [
        # torchvision.models.video parameter counts (Kinetics-400 heads and without the classifier).
        ("r3d_18", 400, 33_371_472),
        ("mc3_18", 400, 11_695_440),
        ("r2plus1d_18", 400, 31_505_325),
        ("r3d_18", 0, 33_166_272),
        ("r2plus1d_18", 0, 31_300_125),
    ],
)
def test_parameter_counts_match_published(name, num_classes, expected):
    assert count_parameters(build_backbone(name, num_classes=num_classes)) == expected


def test_list_backbones_is_sorted_and_names_the_three_resnets():
    names = list_backbones()
    assert names == sorted(names)
    assert {"mc3_18", "r2plus1d_18", "r3d_18"} <= set(names)


def test_state_dict_uses_torchvision_names_and_shapes():
    r2plus1d = build_backbone("r2plus1d_18", num_classes=400).state_dict()
    # midplanes = 64*64*27 // (64*9 + 3*64) = 144; layer2: 64*128*27 // (64*9 + 3*128) = 230.
    assert r2plus1d["stem.0.weight"].shape == (45, 3, 1, 7, 7)
    assert r2plus1d["stem.3.weight"].shape == (64, 45, 3, 1, 1)
    assert r2plus1d["layer1.0.conv1.0.0.weight"].shape == (144, 64, 1, 3, 3)
    assert r2plus1d["layer1.0.conv1.0.1.running_var"].shape == (144,)
    assert r2plus1d["layer1.0.conv1.0.3.weight"].shape == (64, 144, 3, 1, 1)
    assert r2plus1d["layer1.0.conv1.1.weight"].shape == (64,)
    assert r2plus1d["layer2.0.conv1.0.0.weight"].shape == (230, 64, 1, 3, 3)
    assert r2plus1d["layer2.0.conv2.0.0.weight"].shape == (230, 128, 1, 3, 3)
    assert r2plus1d["fc.weight"].shape == (400, 512)

    r3d = build_backbone("r3d_18", num_classes=400).state_dict()
    assert r3d["stem.0.weight"].shape == (64, 3, 3, 7, 7)
    assert r3d["layer1.0.conv1.0.weight"].shape == (64, 64, 3, 3, 3)
    assert r3d["layer4.1.conv2.1.bias"].shape == (512,)
    assert r3d["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1, 1)
    assert r3d["layer2.0.downsample.1.running_mean"].shape == (128,)
    assert "layer1.0.downsample.0.weight" not in r3d
    assert "layer2.1.downsample.0.weight" not in r3d

    headless = build_backbone("r3d_18").state_dict()
    assert not any(key.startswith("fc.") for key in headless)


def test_interface_attributes():
    model = build_backbone("r3d_18", width=0.25)
    assert model.feature_dim == 128
    assert model.tap_names == ("stem", "layer1", "layer2", "layer3", "layer4", "pool")
    assert model.default_input == (16, 112)
    assert build_backbone("mc3_18").feature_dim == 512


def test_r3d_tap_shapes_at_quarter_width():
    model = build_backbone("r3d_18", width=0.25).eval()
    with torch.no_grad():
        taps = model.features(torch.randn(1, 3, 16, 112, 112), taps=model.tap_names)
    # Stem: T 16 (k3 s1 p1), H (112 + 6 - 7) // 2 + 1 = 56; layers 2-4 halve T, H and W.
    assert {name: tuple(out.shape) for name, out in taps.items()} == {
        "stem": (1, 16, 16, 56, 56),
        "layer1": (1, 16, 16, 56, 56),
        "layer2": (1, 32, 8, 28, 28),
        "layer3": (1, 64, 4, 14, 14),
        "layer4": (1, 128, 2, 7, 7),
        "pool": (1, 128),
    }


@pytest.mark.parametrize(
    ("name", "layer4_shape"),
    [
        ("mc3_18", (1, 128, 8, 2, 2)),  # (1,3,3) convs in layers 2-4: no temporal stride
        ("r2plus1d_18", (1, 128, 1, 2, 2)),  # temporal stride 2 in layers 2-4: 8 -> 4 -> 2 -> 1
    ],
)
def test_temporal_strides_of_mc3_and_r2plus1d(name, layer4_shape):
    model = build_backbone(name, **TINY).eval()
    with torch.no_grad():
        taps = model.features(torch.randn(1, 3, 8, 32, 32), taps=("stem", "layer4"))
    assert tuple(taps["stem"].shape) == (1, 16, 8, 16, 16)
    assert tuple(taps["layer4"].shape) == layer4_shape


def test_forward_returns_pooled_features_or_logits():
    clip = torch.randn(2, 3, 8, 32, 32)
    assert tuple(build_backbone("r3d_18", **TINY)(clip).shape) == (2, 128)
    assert tuple(build_backbone("r3d_18", **TINY, num_classes=7)(clip).shape) == (2, 7)


def test_features_stops_after_deepest_requested_tap():
    model = build_backbone("r3d_18", **TINY)
    calls = {"layer1": 0, "layer4": 0}

    def count_call(module, inputs, output):
        calls[module_names[module]] += 1

    module_names = {getattr(model, name): name for name in calls}
    for module in module_names:
        module.register_forward_hook(count_call)
    clip = torch.randn(1, 3, 4, 32, 32)

    assert list(model.features(clip, taps=("stem",))) == ["stem"]
    assert calls == {"layer1": 0, "layer4": 0}

    assert set(model.features(clip, taps=("layer4", "stem"))) == {"stem", "layer4"}
    assert calls == {"layer1": 1, "layer4": 1}


def test_tiny_forward_backward_reaches_every_parameter():
    torch.manual_seed(0)
    model = build_backbone("r2plus1d_18", **TINY, num_classes=5)
    model(torch.randn(2, 3, 8, 56, 56)).logsumexp(dim=1).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_unknown_tap_names_it_and_lists_valid_ones():
    model = build_backbone("r3d_18", **TINY)
    with pytest.raises(VsslError, match=r"'layer5'.*stem, layer1, layer2, layer3, layer4, pool"):
        model.features(torch.randn(1, 3, 4, 32, 32), taps=("layer1", "layer5"))


def test_unknown_backbone_lists_available_ones():
    with pytest.raises(VsslError, match=r"'resnet50'; available: .*\bmc3_18\b.*\br2plus1d_18\b.*\br3d_18\b"):
        build_backbone("resnet50")


def test_unknown_option_is_named():
    with pytest.raises(VsslError, match=r"'r3d_18'.*'widht'.*depth, num_classes, width"):
        build_backbone("r3d_18", widht=0.5)


@pytest.mark.parametrize(
    "options",
    [{"width": 0}, {"width": -0.5}, {"depth": (2, 2, 2)}, {"depth": (1, 0, 1, 1)}, {"num_classes": -1}],
)
def test_invalid_option_values_are_rejected(options):
    with pytest.raises(VsslError, match=next(iter(options))):
        build_backbone("mc3_18", **options)


def test_state_dict_round_trip_gives_identical_outputs():
    torch.manual_seed(0)
    source = build_backbone("mc3_18", **TINY, num_classes=3)
    source(torch.randn(4, 3, 4, 32, 32))  # training-mode pass moves the BN running statistics
    target = build_backbone("mc3_18", **TINY, num_classes=3)
    clip = torch.randn(2, 3, 4, 32, 32)
    source.eval()
    target.eval()
    with torch.no_grad():
        assert not torch.allclose(source(clip), target(clip))
        target.load_state_dict(source.state_dict(), strict=True)
        assert torch.equal(source(clip), target(clip))
