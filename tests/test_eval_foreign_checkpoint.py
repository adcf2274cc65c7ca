"""`vssl eval` on another tool's weights: a torchvision-layout R(2+1)D-18 file evaluated in one CLI command, and a
file that does not fit the backbone refused with one line naming it."""

import subprocess
import sys

import pytest
import torch

from vssl.data.synthetic import SynthConfig, generate
from vssl.models.registry import build_backbone
from vssl.results.store import ResultStore

# Tensors of torchvision's r2plus1d_18 without fc (BN step counters aside), counted by hand: a stem of two
# bias-free convs and two BNs of 4 tensors (10); in each of the 8 basic blocks two factorised convs, each
# (conv, BN, conv) followed by a BN (2 × 10 = 20); (conv, BN) shortcuts in layer2-4 (3 × 5).
R2PLUS1D_18_TENSORS = 10 + 8 * 20 + 3 * 5
FEW_VIDEOS = SynthConfig(name="few", size=32, num_frames=16, fps=8.0, counts={"train": 8, "test": 8},
                         motion_classes=("horizontal", "vertical"), appearance_classes=("disk", "square"))
SMALL_EVAL = ["data.clip_len=4", "data.num_clips=2", "data.crop_size=32", "data.short_side=32",
              "data.num_workers=0", "linear.epochs=3", "progress=false"]


@pytest.fixture(scope="module")
def few_videos(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("few"), preset=FEW_VIDEOS, seed=0, workers=1, progress=False)


def vssl_eval(*args):
    return subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", *args], capture_output=True, text=True,
                          timeout=300)


def test_torchvision_r2plus1d_file_is_evaluated_in_one_command(tmp_path, few_videos):
    torch.manual_seed(0)
    source = build_backbone("r2plus1d_18", num_classes=400)  # torchvision's names and its Kinetics-400 head
    torch.save(source.state_dict(), tmp_path / "r2plus1d_18_k400.pth")  # a bare state dict, as torchvision hubs
    store = tmp_path / "results.sqlite"

    run = vssl_eval("knn,linear", "synthetic_tiny", f"data.manifest={few_videos}",
                    f"encoder.checkpoint={tmp_path / 'r2plus1d_18_k400.pth'}", "encoder.backbone=r2plus1d_18",
                    "encoder.width=1.0", "encoder.depth=null", f"store={store}", *SMALL_EVAL)

    assert run.returncode == 0, run.stderr
    report = [line for line in run.stdout.splitlines() if line.startswith("r2plus1d_18_k400.pth")]
    assert report == [f"r2plus1d_18_k400.pth (vssl keys at top level) -> r2plus1d_18: matched {R2PLUS1D_18_TENSORS} of "
                      f"{R2PLUS1D_18_TENSORS} tensors, 0 missing, 0 wrong shape, 2 unexpected, 0 ignored "
                      "(unexpected e.g. fc.weight, fc.bias)"]
    rows = ResultStore(store).query()
    # kNN and linear × 2 label sets × (top-1, mean class accuracy)
    assert sorted({(r.protocol, r.label) for r in rows}) == [("knn", "appearance"), ("knn", "motion"),
                                                            ("linear", "appearance"), ("linear", "motion")]
    assert len(rows) == 8 and all(0.0 <= r.value <= 100.0 for r in rows)
    assert f"recorded 8 result(s) in {store}" in run.stdout


def test_evaluated_encoder_computes_what_the_file_holds(tmp_path):
    from vssl.app.evaluate import EncoderConfig, EncoderSource

    torch.manual_seed(1)
    source = build_backbone("r2plus1d_18", width=0.25, num_classes=400).eval()
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, tmp_path / "wrapped.pth")
    encoder = EncoderSource(EncoderConfig(checkpoint=str(tmp_path / "wrapped.pth"), backbone="r2plus1d_18",
                                          width=0.25)).encoder(seed=5).eval()
    source.fc = None  # compare pooled features
    clip = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(encoder(clip), source(clip))


def test_file_with_unrelated_keys_is_refused_in_one_line(tmp_path, few_videos):
    bad = tmp_path / "unrelated.pt"
    torch.save({"encoder.conv.weight": torch.zeros(8, 3, 3, 3), "decoder.bias": torch.zeros(8)}, bad)

    run = vssl_eval("knn", "synthetic_tiny", f"data.manifest={few_videos}", f"encoder.checkpoint={bad}",
                    "encoder.backbone=r2plus1d_18", f"store={tmp_path / 'r.sqlite'}", *SMALL_EVAL)

    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"error: {bad}: ") and "r2plus1d_18" in run.stderr
    assert not (tmp_path / "r.sqlite").exists()


def test_file_matching_under_half_the_backbone_is_refused(tmp_path, few_videos):
    torch.manual_seed(0)
    state = build_backbone("r2plus1d_18", width=0.25).state_dict()
    layer4_only = {k: v for k, v in state.items() if k.startswith("layer4.")}  # 2 × 20 + 5 = 45 of the 185
    torch.save(layer4_only, tmp_path / "layer4.pth")

    run = vssl_eval("knn", "synthetic_tiny", f"data.manifest={few_videos}",
                    f"encoder.checkpoint={tmp_path / 'layer4.pth'}", "encoder.backbone=r2plus1d_18",
                    "encoder.width=0.25", "encoder.depth=null", f"store={tmp_path / 'r.sqlite'}", *SMALL_EVAL)

    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert f"{tmp_path / 'layer4.pth'}: only 45 of the {R2PLUS1D_18_TENSORS} tensors of r2plus1d_18" in run.stderr
