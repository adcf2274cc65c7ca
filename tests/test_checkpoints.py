"""Checkpoint import: foreign key layouts and wrappers, safetensors, pickle refusal, shape mismatches, our own files."""

import argparse
import json
import struct

import pytest
import torch
from torch import nn

from vssl.core.errors import VsslError
from vssl.models.checkpoints import load_encoder, load_pretrained, read_safetensors, save_encoder
from vssl.models.spec import EncoderSpec
from vssl.models.registry import build_backbone

TINY = 0.125  # width of every model built here
# Tensors of torchvision's r3d_18 state dict without fc, counted by hand: stem conv + BN (1 + 5), eight basic
# blocks of two conv + BN pairs (8 x 12), projection shortcuts (conv + BN) in layer2-4 (3 x 6).
R3D_18_ENCODER_TENSORS = 6 + 8 * 12 + 3 * 6


def build(name: str, seed: int, **kwargs) -> nn.Module:
    """A tiny backbone in eval mode with seed-dependent weights, BN statistics and norm/bias parameters."""
    torch.manual_seed(seed)
    model = build_backbone(name, width=TINY, **kwargs)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def assert_same_outputs(source: nn.Module, target: nn.Module, clip: torch.Tensor, source_fn=None) -> None:
    """``target(clip)`` equals ``source(clip)`` (or ``source_fn(clip)``)."""
    with torch.no_grad():
        expected = source(clip) if source_fn is None else source_fn(clip)
        torch.testing.assert_close(target(clip), expected)


def assert_different_outputs(source: nn.Module, target: nn.Module, clip: torch.Tensor, source_fn=None) -> None:
    """Guard: before loading, the two models disagree (so a later equality means the load worked)."""
    with torch.no_grad():
        expected = source(clip) if source_fn is None else source_fn(clip)
        assert not torch.allclose(target(clip), expected, atol=1e-4)


def clip(frames: int = 4, size: int = 32) -> torch.Tensor:
    return torch.randn(1, 3, frames, size, size, generator=torch.Generator().manual_seed(7))


# ---------------------------------------------------------------- torchvision / MoCo-style wrappers


def test_torchvision_r3d_with_400_class_head_loads_into_headless_backbone(tmp_path):
    source = build("r3d_18", seed=0, num_classes=400)
    state = source.state_dict()
    # torchvision's own names, written out: they are ours, so no renaming happens.
    assert {"stem.0.weight", "layer1.0.conv1.0.weight", "layer2.0.downsample.1.running_var", "fc.weight"} <= set(state)
    torch.save(state, tmp_path / "r3d_k400.pth")
    target = build("r3d_18", seed=1)
    source.fc = None  # compare pooled features

    report = load_pretrained(target, tmp_path / "r3d_k400.pth", strict=True)  # unexpected keys do not fail strict

    assert report.unexpected == ["fc.weight", "fc.bias"] and report.missing == [] and report.ignored == []
    assert report.loaded == R3D_18_ENCODER_TENSORS
    assert report.summary() == (
        f"r3d_k400.pth (vssl keys at top level): loaded {R3D_18_ENCODER_TENSORS} tensors; "
        "2 unexpected (e.g. fc.weight, fc.bias)"
    )
    assert_same_outputs(source, target, clip())


def test_checkpoint_without_bn_step_counters_loads_strictly(tmp_path):
    source = build("r3d_18", seed=0)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert len(state) == R3D_18_ENCODER_TENSORS - (1 + 8 * 2 + 3)  # a counter per BN: stem, 2 per block, shortcuts
    torch.save(state, tmp_path / "old_torchvision.pth")  # as files saved before torch 0.4.1 (or converted) are
    target = build("r3d_18", seed=1)

    report = load_pretrained(target, tmp_path / "old_torchvision.pth", strict=True)

    assert report.missing == [] and report.loaded == len(state)
    assert_same_outputs(source, target, clip())


@pytest.mark.parametrize("prefix, momentum_prefix", [
    ("module.encoder_q.", "module.encoder_k."),  # MoCo under DataParallel
    ("online_encoder.", "target_encoder."),  # BYOL
    ("model.backbone.", "model.momentum_backbone."),
    ("_orig_mod.module.", "_orig_mod.ema."),  # torch.compile around DataParallel
])
def test_wrapped_encoder_is_found_and_momentum_copy_ignored(tmp_path, prefix, momentum_prefix):
    query = build("r3d_18", seed=0)
    key_encoder = build("r3d_18", seed=2)  # a momentum encoder with different weights must not be picked
    projection = {f"{prefix}fc.0.weight": torch.randn(32, 64), f"{prefix}fc.0.bias": torch.randn(32)}
    state = {prefix + k: v for k, v in query.state_dict().items()} | projection
    state |= {momentum_prefix + k: v for k, v in key_encoder.state_dict().items()}
    state |= {"module.queue": torch.randn(32, 16), "module.queue_ptr": torch.zeros(1, dtype=torch.long)}
    torch.save({"state_dict": state, "arch": "r3d_18", "epoch": 200}, tmp_path / "moco.pth.tar")
    target = build("r3d_18", seed=1)
    assert_different_outputs(query, target, clip())

    report = load_pretrained(target, tmp_path / "moco.pth.tar")

    assert report.loaded == R3D_18_ENCODER_TENSORS and report.missing == [] and report.mismatched == []
    assert sorted(report.unexpected) == sorted(projection)
    assert "module.queue" in report.ignored and len(report.ignored) == len(state) - len(projection) - report.loaded
    assert f"'state_dict' under '{prefix}'" in report.summary()
    assert_same_outputs(query, target, clip())


# ---------------------------------------------------------------- PySlowFast / pytorchvideo Slow R-50

# Our block module -> PySlowFast's (ResBlock.branch1/branch1_bn, BottleneckTransform a/a_bn/b/b_bn/c/c_bn).
PYSLOWFAST_BLOCK_NAMES = {"conv1": "branch2.a", "bn1": "branch2.a_bn", "conv2": "branch2.b", "bn2": "branch2.b_bn",
                          "conv3": "branch2.c", "bn3": "branch2.c_bn", "downsample.0": "branch1",
                          "downsample.1": "branch1_bn"}
# Our block module -> pytorchvideo's (ResBlock.branch1_conv/branch1_norm, BottleneckBlock conv_a/norm_a/...).
PYTORCHVIDEO_BLOCK_NAMES = {"conv1": "branch2.conv_a", "bn1": "branch2.norm_a", "conv2": "branch2.conv_b",
                            "bn2": "branch2.norm_b", "conv3": "branch2.conv_c", "bn3": "branch2.norm_c",
                            "downsample.0": "branch1_conv", "downsample.1": "branch1_norm"}


def pyslowfast_key(key: str) -> str:
    """Our Slow R-50 key as PySlowFast names it (s1 stem, s2-s5 stages, head.projection)."""
    parts = key.split(".")
    if parts[0] == "stem":
        return f"s1.pathway0_stem.{ {'0': 'conv', '1': 'bn'}[parts[1]] }.{parts[2]}"
    if parts[0] == "fc":
        return f"head.projection.{parts[1]}"
    stage, block, module, tensor = int(parts[0][-1]) + 1, parts[1], ".".join(parts[2:-1]), parts[-1]
    return f"s{stage}.pathway0_res{block}.{PYSLOWFAST_BLOCK_NAMES[module]}.{tensor}"


def pytorchvideo_key(key: str) -> str:
    """Our Slow R-50 key as pytorchvideo's create_resnet names it (blocks.0 stem, blocks.1-4, blocks.5.proj)."""
    parts = key.split(".")
    if parts[0] == "stem":
        return f"blocks.0.{ {'0': 'conv', '1': 'norm'}[parts[1]] }.{parts[2]}"
    if parts[0] == "fc":
        return f"blocks.5.proj.{parts[1]}"
    stage, block, module, tensor = parts[0][-1], parts[1], ".".join(parts[2:-1]), parts[-1]
    return f"blocks.{stage}.res_blocks.{block}.{PYTORCHVIDEO_BLOCK_NAMES[module]}.{tensor}"


def test_pyslowfast_slow_r50_checkpoint_loads_with_its_head(tmp_path):
    source = build("slow_r50", seed=0, num_classes=7)
    state = {pyslowfast_key(k): v for k, v in source.state_dict().items()}
    assert len(state) == len(source.state_dict())
    assert {"s1.pathway0_stem.conv.weight", "s1.pathway0_stem.bn.running_mean", "s2.pathway0_res0.branch1.weight",
            "s2.pathway0_res0.branch1_bn.bias", "s3.pathway0_res3.branch2.a.weight",
            "s4.pathway0_res5.branch2.b_bn.weight",
            "s5.pathway0_res2.branch2.c_bn.running_var", "head.projection.weight"} <= set(state)
    torch.save({"epoch": 196, "model_state": state, "optimizer_state": {"state": {}, "param_groups": []},
                "cfg": "MODEL:\n  ARCH: slow\n"}, tmp_path / "SLOW_8x8_R50.pyth")
    with_head = build("slow_r50", seed=1, num_classes=7)
    headless = build("slow_r50", seed=1)
    assert_different_outputs(source, with_head, clip())

    head_report = load_pretrained(with_head, tmp_path / "SLOW_8x8_R50.pyth", strict=True)
    headless_report = load_pretrained(headless, tmp_path / "SLOW_8x8_R50.pyth")

    assert head_report.summary() == (
        f"SLOW_8x8_R50.pyth (pyslowfast keys in 'model_state'): loaded {len(state)} tensors; all keys matched"
    )
    assert headless_report.unexpected == ["head.projection.weight", "head.projection.bias"]
    assert headless_report.missing == [] and headless_report.loaded == len(state) - 2
    assert_same_outputs(source, with_head, clip())
    assert_same_outputs(source, headless, clip(), source_fn=lambda x: source.features(x, "pool")["pool"])


def test_pytorchvideo_slow_r50_hub_checkpoint_loads(tmp_path):
    source = build("slow_r50", seed=0, num_classes=5)
    state = {pytorchvideo_key(k): v for k, v in source.state_dict().items()}
    assert {"blocks.0.conv.weight", "blocks.0.norm.running_var", "blocks.1.res_blocks.0.branch1_conv.weight",
            "blocks.1.res_blocks.0.branch1_norm.weight", "blocks.2.res_blocks.1.branch2.conv_a.weight",
            "blocks.4.res_blocks.2.branch2.norm_c.bias", "blocks.5.proj.weight"} <= set(state)
    torch.save({"model_state": state}, tmp_path / "SLOW_8x8_R50.pyth")  # as pytorchvideo's hub reads it
    target = build("slow_r50", seed=1, num_classes=5)
    assert_different_outputs(source, target, clip())

    report = load_pretrained(target, tmp_path / "SLOW_8x8_R50.pyth", strict=True)

    assert report.source.endswith("(pytorchvideo keys in 'model_state')") and report.loaded == len(state)
    assert report.summary().endswith("all keys matched")
    assert_same_outputs(source, target, clip())


# ---------------------------------------------------------------- VideoMAE ViT


def test_videomae_finetuned_checkpoint_loads_without_its_head(tmp_path):
    source = build("vit_s16", seed=0, depth=2, num_classes=5)
    state = source.state_dict()
    # modeling_finetune.py's names (use_mean_pooling: fc_norm, no final norm).
    assert {"patch_embed.proj.weight", "blocks.1.attn.q_bias", "blocks.1.attn.v_bias", "blocks.0.mlp.fc2.bias",
            "fc_norm.weight", "head.weight"} <= set(state) and "norm.weight" not in state
    torch.save({"module": state}, tmp_path / "vit_s_k400_ft.pth")  # a DeepSpeed-saved VideoMAE checkpoint
    target = build("vit_s16", seed=1, depth=2)
    pooled = lambda x: source.features(x, "pool")["pool"]  # noqa: E731
    assert_different_outputs(source, target, clip(2), pooled)

    report = load_pretrained(target, tmp_path / "vit_s_k400_ft.pth")

    assert report.unexpected == ["head.weight", "head.bias"] and report.missing == []
    assert "(vssl keys in 'module')" in report.summary()
    assert_same_outputs(source, target, clip(2), pooled)


def test_videomae_pretraining_checkpoint_loads_encoder_and_reports_its_norm(tmp_path):
    source = build("vit_s16", seed=0, depth=2)
    dim = source.feature_dim
    encoder = {f"encoder.{k}": v for k, v in source.state_dict().items() if not k.startswith("fc_norm.")}
    encoder |= {"encoder.norm.weight": torch.rand(dim), "encoder.norm.bias": torch.rand(dim)}
    decoder = {"decoder.blocks.0.norm1.weight": torch.ones(16), "decoder.norm.weight": torch.ones(16),
               "decoder.head.weight": torch.randn(1536, 16), "mask_token": torch.zeros(1, 1, 16),
               "encoder_to_decoder.weight": torch.randn(16, dim)}
    args = argparse.Namespace(model="pretrain_videomae_small_patch16_224", mask_ratio=0.9)
    torch.save({"model": encoder | decoder, "epoch": 1599, "args": args}, tmp_path / "checkpoint-1599.pth")
    target = build("vit_s16", seed=1, depth=2)
    fc_norm_before = target.fc_norm.weight.clone()
    assert_different_outputs(source, target, clip(2), source.encode)

    report = load_pretrained(target, tmp_path / "checkpoint-1599.pth")

    # Our ViT mean-pools then applies fc_norm, like VideoMAE's fine-tuning model, which has no final
    # per-token norm: the pre-training encoder's norm has no place, and fc_norm keeps its initial values.
    assert report.missing == ["fc_norm.weight", "fc_norm.bias"]
    assert report.unexpected == ["encoder.norm.weight", "encoder.norm.bias"]
    assert sorted(report.ignored) == sorted(decoder)
    assert "(vssl keys in 'model' under 'encoder.')" in report.summary()
    torch.testing.assert_close(target.fc_norm.weight, fc_norm_before)
    with torch.no_grad():
        torch.testing.assert_close(target.encode(clip(2)), source.encode(clip(2)))
    with pytest.raises(VsslError, match=r"strict load refused: .*2 missing \(e\.g\. fc_norm\.weight, fc_norm\.bias\)"):
        load_pretrained(build("vit_s16", seed=1, depth=2), tmp_path / "checkpoint-1599.pth", strict=True)


# ---------------------------------------------------------------- mmaction Video Swin, Efficient-3DCNNs


def test_mmaction_video_swin_checkpoint_loads_with_its_classifier(tmp_path):
    source = build("swin3d_t", seed=0, depth=(1, 1, 1, 1), window_size=(2, 4, 4), num_classes=4)
    state = {("cls_head.fc_cls." + k[5:] if k.startswith("head.") else "backbone." + k): v
             for k, v in source.state_dict().items()}
    assert {"backbone.patch_embed.proj.weight", "backbone.layers.0.blocks.0.attn.relative_position_bias_table",
            "backbone.layers.2.downsample.reduction.weight", "backbone.norm.weight",
            "cls_head.fc_cls.bias"} <= set(state)
    torch.save({"meta": {"epoch": 30}, "state_dict": state}, tmp_path / "swin_tiny_k400.pth")
    target = build("swin3d_t", seed=1, depth=(1, 1, 1, 1), window_size=(2, 4, 4), num_classes=4)
    assert_different_outputs(source, target, clip())

    report = load_pretrained(target, tmp_path / "swin_tiny_k400.pth", strict=True)

    assert report.summary() == (
        f"swin_tiny_k400.pth (mmaction keys in 'state_dict'): loaded {len(state)} tensors; all keys matched"
    )
    assert_same_outputs(source, target, clip())


def test_efficient_3dcnns_checkpoint_loads(tmp_path):
    source = build("mobilenet_v2_3d", seed=0, num_classes=3)
    # Efficient-3DCNNs' main.py saves a DataParallel model: module.features.N..., module.classifier.1...
    state = {"module." + k.replace("blocks.", "features.", 1): v for k, v in source.state_dict().items()}
    assert {"module.features.0.0.weight", "module.features.1.conv.0.weight", "module.classifier.1.weight"} <= set(state)
    torch.save({"epoch": 240, "arch": "mobilenetv2", "state_dict": state}, tmp_path / "kinetics_mobilenetv2.pth")
    target = build("mobilenet_v2_3d", seed=1, num_classes=3)
    assert_different_outputs(source, target, clip(8))

    report = load_pretrained(target, tmp_path / "kinetics_mobilenetv2.pth", strict=True)

    assert "(efficient-3dcnns keys in 'state_dict' under 'module.')" in report.summary()
    assert report.loaded == len(state) and report.unexpected == []
    assert_same_outputs(source, target, clip(8))


# ---------------------------------------------------------------- safetensors

SAFETENSORS_DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def write_safetensors(path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """A .safetensors file per the format spec: u64 LE header size, JSON header (space-padded), raw LE bytes."""
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        raw = tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def test_safetensors_reader_decodes_hand_written_bytes(tmp_path):
    header = json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "y": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [8, 12]},
                         "__metadata__": {"format": "pt"}}).encode()
    # 1.5 and -2.0 as little-endian float32; 1.0 (0x3F80) and -2.0 (0xC000) as little-endian bfloat16.
    body = struct.pack("<ff", 1.5, -2.0) + b"\x80\x3f\x00\xc0"
    (tmp_path / "hand.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + body)

    tensors = read_safetensors(tmp_path / "hand.safetensors")

    assert set(tensors) == {"x", "y"}
    assert tensors["x"].dtype == torch.float32 and tensors["x"].tolist() == [1.5, -2.0]
    assert tensors["y"].dtype == torch.bfloat16 and tensors["y"].tolist() == [[1.0, -2.0]]


def test_safetensors_round_trip_loads_into_backbone(tmp_path):
    source = build("r3d_18", seed=0)
    state = source.state_dict()
    write_safetensors(tmp_path / "model.safetensors", state, metadata={"format": "pt"})
    target = build("r3d_18", seed=1)

    report = load_pretrained(target, tmp_path / "model.safetensors", strict=True)

    assert report.loaded == R3D_18_ENCODER_TENSORS and report.summary().endswith("all keys matched")
    for key, tensor in target.state_dict().items():
        assert torch.equal(tensor, state[key]), key  # num_batches_tracked (I64) included
    assert_same_outputs(source, target, clip())
    half = {"w": torch.randn(3, 2).to(torch.float16), "b": torch.randn(4).to(torch.bfloat16)}
    write_safetensors(tmp_path / "half.safetensors", half)
    assert all(torch.equal(read_safetensors(tmp_path / "half.safetensors")[k], v) for k, v in half.items())


def test_malformed_safetensors_is_a_clear_error(tmp_path):
    header = json.dumps({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "short.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 10**6) + b"{}")
    with pytest.raises(VsslError, match=r"short\.safetensors: safetensors entry 'x' .* do not fit"):
        read_safetensors(tmp_path / "short.safetensors")
    with pytest.raises(VsslError, match=r"huge\.safetensors: not a safetensors file"):
        load_pretrained(build("r3d_18", seed=0), tmp_path / "huge.safetensors")


# ---------------------------------------------------------------- refusals and mismatches


class TrainingState:
    """Stands for any custom object a careless script pickles into its checkpoint."""

    def __init__(self) -> None:
        self.step = 3


def test_checkpoint_needing_full_pickle_is_refused(tmp_path):
    torch.save({"model": build("r3d_18", seed=0).state_dict(), "trainer": TrainingState()}, tmp_path / "pickled.pth")
    with pytest.raises(VsslError, match=r"pickled\.pth: refused to unpickle: it needs full pickle \(.*TrainingState\)"):
        load_pretrained(build("r3d_18", seed=1), tmp_path / "pickled.pth")


def test_shape_mismatch_is_reported_and_skipped_and_strict_raises_before_loading(tmp_path):
    source = build("r3d_18", seed=0, num_classes=400)
    torch.save(source.state_dict(), tmp_path / "r3d_k400.pth")
    target = build("r3d_18", seed=1, num_classes=10)
    fc_before, stem_before = target.fc.weight.clone(), target.stem[0].weight.clone()

    with pytest.raises(VsslError, match=r"strict load refused: .*2 shape mismatches"):
        load_pretrained(target, tmp_path / "r3d_k400.pth", strict=True)
    assert torch.equal(target.stem[0].weight, stem_before)  # nothing loaded by the refused strict load

    report = load_pretrained(target, tmp_path / "r3d_k400.pth")

    assert report.mismatched == ["fc.weight (400, 64) vs fc.weight (10, 64)", "fc.bias (400,) vs fc.bias (10,)"]
    assert report.missing == [] and report.unexpected == [] and report.loaded == R3D_18_ENCODER_TENSORS
    assert "2 shape mismatches, not loaded (e.g. fc.weight (400, 64) vs fc.weight (10, 64)" in report.summary()
    assert torch.equal(target.fc.weight, fc_before)
    assert torch.equal(target.stem[0].weight, source.stem[0].weight)


def test_file_without_a_matching_key_is_an_error(tmp_path):
    torch.save({"state_dict": {"generator.conv.weight": torch.zeros(3)}}, tmp_path / "gan.pth")
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(VsslError, match=r"gan\.pth: none of its 1 tensors fits VideoResNet"):
        load_pretrained(build("r3d_18", seed=0), tmp_path / "gan.pth")
    with pytest.raises(VsslError, match=r"list\.pth: holds a list"):
        load_pretrained(build("r3d_18", seed=0), tmp_path / "list.pth")
    with pytest.raises(VsslError, match="checkpoint not found"):
        load_pretrained(build("r3d_18", seed=0), tmp_path / "absent.pth")


# ---------------------------------------------------------------- our own files


def test_our_encoder_file_and_lightning_checkpoint_load(tmp_path):
    """Today's encoder.pt and Lightning checkpoint (an EncoderSpec), and both as vssl wrote them before the spec
    existed (backbone + backbone_kwargs), rebuild the same backbone."""
    source = build("r3d_18", seed=0)
    spec = EncoderSpec("r3d_18", {"width": TINY}, clip_len=8, stride=2, crop_size=32)
    save_encoder(tmp_path / "encoder.pt", source, spec)
    weights = {k: v for k, v in source.state_dict().items()}
    legacy = {"backbone": "r3d_18", "backbone_kwargs": {"width": TINY}}
    torch.save({"format": "vssl-encoder-v1", **legacy, "state_dict": weights}, tmp_path / "encoder_v1.pt")
    for name, stored in (("last.ckpt", spec.to_dict()), ("last_v1.ckpt", legacy)):
        torch.save({"epoch": 3, "vssl": stored, "state_dict": {"backbone." + k: v for k, v in weights.items()}
                    | {"projector.0.weight": torch.randn(8, 64)}}, tmp_path / name)

    for name in ("encoder.pt", "encoder_v1.pt", "last.ckpt", "last_v1.ckpt"):
        target = build("r3d_18", seed=1)
        report = load_pretrained(target, tmp_path / name, strict=True)
        assert report.summary() == (
            f"{name} (vssl keys of a vssl r3d_18 encoder): loaded {R3D_18_ENCODER_TENSORS} tensors; all keys matched"
        )
        assert_same_outputs(source, target, clip())
        rebuilt, rebuilt_spec, encoder_report = load_encoder(tmp_path / name)
        expected = spec if "v1" not in name else EncoderSpec("r3d_18", {"width": TINY})  # v1 had no geometry
        assert (rebuilt_spec, encoder_report.summary()) == (expected, "all keys matched")
        assert_same_outputs(source, rebuilt.eval(), clip())
