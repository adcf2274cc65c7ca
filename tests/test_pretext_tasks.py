"""Pace, VCOP, RotNet3D and PRP: hand-worked labels, rotations, losses and weights; one epoch of each method."""

import csv
import itertools
import json
import math
from types import SimpleNamespace

import pytest
import torch

from vssl.app.pretrain import PretrainConfig, PretrainDataConfig, run_pretrain
from vssl.core.config import from_dict, load_config
from vssl.core.errors import ConfigError, VsslError
from vssl.core.optim import OptimConfig
from vssl.methods.pretext_sampling import pace_indices, pace_label
from vssl.methods.pace import PaceConfig, contrast_masks, masked_contrastive_loss, pace_labels, pace_transform
from vssl.methods.prp import PRP, PRPConfig, deepest_map_tap, dilated_input, motion_attention, reconstruction_target
from vssl.methods.rotnet3d import RotNet3D, RotNet3DConfig, rotate_frames
from vssl.methods.vcop import VCOP, VCOPConfig, order_labels, permutation_index
from vssl.models.checkpoints import load_encoder
from vssl.models.registry import build_backbone


def _tiny_backbone():
    torch.manual_seed(0)
    return build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1))


def _method(method_class, config):
    method = method_class(_tiny_backbone(), config, OptimConfig(lr=0.1))
    method.manual_backward = lambda loss: loss.backward()  # outside a Trainer there is nowhere to log to either
    method.log = lambda *args, **kwargs: None
    return method


# --- complexity levels (Kumar et al. 2023 §4.3) ----------------------------------------------------------------------

def test_complexity_levels_set_each_task_knob():
    assert [RotNet3DConfig(complexity=c).rotations for c in ("C1", "C2", "C3")] == [
        (0, 90), (0, 90, 180), (0, 90, 180, 270)]
    assert [VCOPConfig(complexity=c).tuple_len for c in ("C1", "C2", "C3")] == [3, 4, 5]
    assert [PRPConfig(complexity=c).dilations for c in ("C1", "C2", "C3")] == [(1, 2), (1, 2, 4), (1, 2, 4, 8)]
    assert [len(PaceConfig(complexity=c).paces) for c in ("C1", "C2", "C3")] == [3, 4, 5]
    assert VCOPConfig(tuple_len=4, complexity="C2").tuple_len == 4  # agreeing values are fine


def test_complexity_conflicts_and_bad_values_are_config_errors():
    with pytest.raises(ConfigError, match="method.tuple_len=4 contradicts method.complexity=C3"):
        from_dict(VCOPConfig, {"tuple_len": 4, "complexity": "C3"}, "method")
    with pytest.raises(ConfigError, match="method.complexity"):
        RotNet3DConfig(complexity="C4")
    with pytest.raises(ConfigError, match="method.rotations"):
        RotNet3DConfig(rotations=(0, 45))
    with pytest.raises(ConfigError, match="method.projection_dim"):
        PaceConfig(projection_dim=8)  # a projection without a contrastive loss would never train
    data = SimpleNamespace(fps_jitter=0.5)
    with pytest.raises(ConfigError, match="data.fps_jitter"):
        VCOP.build_sampler(VCOPConfig(), data)


# --- VCOP ---------------------------------------------------------------------------------------------------------

def test_vcop_label_table_is_lexicographic_and_a_known_shuffle_gives_its_label():
    # the documented N = 3 table: (0,1,2)→0, (0,2,1)→1, (1,0,2)→2, (1,2,0)→3, (2,0,1)→4, (2,1,0)→5
    table = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    assert [permutation_index(order) for order in table] == list(range(6))
    for n in (4, 5):
        assert [permutation_index(p) for p in itertools.permutations(range(n))] == list(range(math.factorial(n)))
    # positions hold the clips starting at frames 20, 0, 10: temporal ranks (2, 0, 1) → class 4
    frames = torch.tensor([[[20, 21], [0, 1], [10, 11]], [[0, 1], [10, 11], [20, 21]]])
    assert order_labels(frames).tolist() == [4, 0]


def test_vcop_head_concatenates_every_pair_into_n_factorial_logits():
    method = _method(VCOP, VCOPConfig(tuple_len=4, hidden_dim=16))
    assert method.order_head[1].in_features == 6 * 16 and method.order_head[1].out_features == 24
    features = torch.randn(2, 4, method.backbone.feature_dim)
    assert method.order_logits(features).shape == (2, 24)


# --- RotNet3D -----------------------------------------------------------------------------------------------------

def test_rotations_by_hand_and_against_torch_rot90():
    frame = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert rotate_frames(frame, 90).tolist() == [[3, 6], [2, 5], [1, 4]]  # counter-clockwise
    assert rotate_frames(frame, 180).tolist() == [[6, 5, 4], [3, 2, 1]]
    assert rotate_frames(frame, 270).tolist() == [[4, 1], [5, 2], [6, 3]]
    clip = torch.randn(2, 3, 4, 5, 5)
    for quarter_turns, degrees in enumerate((0, 90, 180, 270)):
        assert torch.equal(rotate_frames(clip, degrees), torch.rot90(clip, quarter_turns, dims=(-2, -1)))


def test_rotnet_feeds_every_clip_under_every_rotation():
    method = _method(RotNet3D, RotNet3DConfig(complexity="C2"))
    clips = torch.randn(2, 3, 4, 6, 6)
    rotated, labels = method.rotated_batch(clips)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(rotated[3], torch.rot90(clips[1], 1, dims=(-2, -1)))
    with pytest.raises(VsslError, match="square crops"):
        method.rotated_batch(torch.randn(2, 3, 4, 6, 8))


# --- PRP ----------------------------------------------------------------------------------------------------------

def test_prp_dense_clip_gives_the_dilated_input_and_the_label():
    config = PRPConfig()
    expected_inputs = {1: [10, 11, 12, 13], 2: [10, 12, 14, 16], 4: [10, 14, 18, 22], 8: [10, 18, 26, 34]}
    for label, dilation in enumerate(config.dilations):
        dense_frames = pace_indices(10, 8, dilation / 2)  # the sampler decodes 2T = 8 frames at pace s/2
        dense = torch.tensor(dense_frames, dtype=torch.float32).view(1, 1, 8, 1, 1)
        assert dilated_input(dense).flatten().tolist() == expected_inputs[dilation]
        assert pace_label(dense_frames, config.dense_paces) == label
    assert pace_indices(10, 8, 0.5) == [10, 10, 11, 11, 12, 12, 13, 13]


def test_prp_target_interpolates_the_repeated_frames_of_dilation_one():
    frames = torch.tensor([[10, 10, 11, 11, 12, 12, 13, 13], [10, 11, 12, 13, 14, 15, 16, 17]])
    dense = frames.float().view(2, 1, 8, 1, 1).expand(2, 3, 8, 2, 2)  # every pixel holds its frame index
    target = reconstruction_target(dense, frames)
    assert target[0, 0, :, 0, 0].tolist() == [10, 10.5, 11, 11.5, 12, 12.5, 13, 13]  # last frame has no successor
    assert target[1, 2, :, 1, 1].tolist() == list(range(10, 18))  # dilation 2: the dense clip itself


def test_motion_attention_centres_a_gaussian_on_the_only_moving_pixel():
    clip = torch.zeros(1, 3, 2, 8, 8)
    clip[0, :, 1, 5, 6] = 1.0  # one pixel changes between the two frames
    weights = motion_attention(clip, patch=4, stride=4, low=0.8, high=2.0)[0]
    # the moving pixel lies in patch (rows 4–7, cols 4–7): centre (5.5, 5.5), σ = 2
    def gaussian(y, x):
        return math.exp(-((y - 5.5) ** 2 + (x - 5.5) ** 2) / 8)
    smallest, largest = gaussian(0, 0), gaussian(5, 5)
    for y, x in [(5, 6), (6, 5), (0, 0), (0, 7), (3, 4)]:
        expected = 0.8 + 1.2 * (gaussian(y, x) - smallest) / (largest - smallest)
        assert weights[y, x].item() == pytest.approx(expected, abs=1e-6)
    assert weights[5, 6].item() == pytest.approx(2.0) and weights[0, 0].item() == pytest.approx(0.8)
    # overlapping patches (stride 1) tie; the first in row-major order wins: rows 2–5, cols 3–6, centre (3.5, 4.5)
    tied = motion_attention(clip, patch=4, stride=1, low=0.8, high=2.0)[0]
    assert tied[3, 4].item() == pytest.approx(2.0) and tied[4, 5].item() == pytest.approx(2.0)
    assert torch.equal(motion_attention(torch.ones(1, 3, 2, 8, 8), 4, 4, 0.8, 2.0), torch.ones(1, 8, 8))


def test_prp_decoder_reads_the_deepest_map_and_rebuilds_twice_the_frames():
    method = _method(PRP, PRPConfig(complexity="C1"))
    assert method.map_tap == "layer4" and method.rate_head.out_features == 2
    dense = torch.randn(2, 3, 8, 24, 24)
    frames = torch.tensor([pace_indices(0, 8, 0.5), pace_indices(3, 8, 1)])
    outputs = method.backbone.features(dilated_input(dense), taps=("layer4", "pool"))
    assert method.decoder(outputs["layer4"], (8, 24, 24)).shape == (2, 3, 8, 24, 24)
    loss = method.train_batch({"clips": dense[:, None], "frames": frames[:, None]})
    assert torch.isfinite(loss) and method.decoder.to_frames.weight.grad is not None
    assert deepest_map_tap(build_backbone("c3d", width=0.0625)) == ("pool5", 32)  # fc6 is not a map


# --- pace prediction ----------------------------------------------------------------------------------------------

def test_contrastive_losses_by_hand():
    # clips A, A' of video 0 and B, B' of video 1; A and A' identical, B and B' identical, A ⟂ B
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    similarity = embeddings @ embeddings.t()
    videos = torch.tensor([0, 0, 1, 1])
    pace = torch.tensor([0, 1, 0, 1])
    positive, negative = contrast_masks("same_context", pace, videos)
    assert positive.int().tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    assert negative.int().tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]]
    # 4 positive pairs at similarity 1, 8 negative pairs at 0: log(4e + 8) − 1
    expected = math.log(4 * math.e + 8) - 1
    assert masked_contrastive_loss(similarity, positive, negative).item() == pytest.approx(expected)
    positive, negative = contrast_masks("same_pace", pace, videos)
    assert positive.int().tolist() == [[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]]
    # positives (A,B),(A',B') at 0; negatives: 4 same-video pairs at 1, 4 cross pairs at 0: log(4 + 4e + 4) − 0
    assert masked_contrastive_loss(similarity, positive, negative).item() == pytest.approx(math.log(8 + 4 * math.e))
    no_pairs, rest = contrast_masks("same_pace", torch.tensor([0, 1, 2, 3]), videos)
    assert masked_contrastive_loss(similarity, no_pairs, rest).item() == 0.0


def test_pace_labels_of_a_batch_from_its_frame_indices():
    paces = (1.0, 2.0, 3.0, 4.0)
    frames = torch.tensor([[[5, 6, 7, 8], [5, 9, 13, 17]], [[0, 3, 6, 9], [2, 4, 6, 8]]])
    assert pace_labels(frames, paces).tolist() == [[0, 3], [2, 1]]


def test_pace_colour_jitter_per_frame_or_per_clip():
    data = PretrainDataConfig(crop_size=8, short_side=(8, 8), flip=False)
    video = torch.full((3, 2, 8, 8), 0.5)
    video[0] = 0.7  # a coloured frame repeated twice
    for per_frame in (True, False):
        transform = pace_transform(PaceConfig(per_frame_jitter=per_frame, jitter_p=1.0), data)
        frames = transform(video, torch.Generator().manual_seed(0))
        assert torch.equal(frames[:, 0], frames[:, 1]) != per_frame


# --- one epoch of each through `vssl pretrain` --------------------------------------------------------------------

# data.num_workers stays at the presets' 1: pretraining then computes on one thread, which on a shared 2-core machine
# is over ten times faster than two threads competing with other processes (what num_workers=0 gives)
TINY_RUN = ["model.width=0.125", "model.depth=[1,1,1,1]", "data.clip_len=4", "data.crop_size=24",
            "data.short_side=[26,30]", "train.epochs=1", "train.batch_size=4", "train.progress=false"]


@pytest.mark.parametrize("preset, extra", [
    ("pace_tiny", []),  # same-context contrast with "+fc": two clips per video
    ("vcop_tiny", ["method.gap=2"]),  # 3 clips of 4 frames fit in the 24-frame videos
    ("rotnet3d_tiny", []),
    ("prp_tiny", ["method.complexity=C2"]),
])
def test_each_method_trains_one_epoch_and_saves_its_encoder(micro_manifest, tmp_path, preset, extra):
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path}", *TINY_RUN, *extra]
    run = run_pretrain(load_config(PretrainConfig, preset, "pretrain", overrides))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["method"] == preset.removesuffix("_tiny")  # 16 videos / batch 4
    encoder, spec, report = load_encoder(run / "encoder.pt")
    assert spec.backbone == "r3d_18" and report.summary() == "all keys matched"  # the heads stay out of encoder.pt
    with open(run / "logs" / "version_0" / "metrics.csv") as f:
        epoch_rows = [row for row in csv.DictReader(f) if row.get("train/pretext_acc_epoch")]
    assert len(epoch_rows) == 1 and 0.0 <= float(epoch_rows[0]["train/pretext_acc_epoch"]) <= 1.0


def test_supervised_loss_sums_the_cross_entropy_of_each_label_set():
    from vssl.methods.supervised import supervised_loss
    motion = torch.tensor([[2.0, 0.0], [0.0, 0.0]])  # video 0 right (class 0), video 1 a tie (argmax 0, label 1)
    appearance = torch.tensor([[0.0, 0.0, math.log(2.0)], [0.0, 0.0, 0.0]])
    labels = torch.tensor([[0, 2], [1, 0]])
    loss, accuracy = supervised_loss([motion, appearance], labels)
    motion_ce = (-math.log(math.exp(2) / (math.exp(2) + 1)) + math.log(2)) / 2
    appearance_ce = (-math.log(2 / 4) + math.log(3)) / 2
    assert loss.item() == pytest.approx(motion_ce + appearance_ce, rel=1e-6)
    assert accuracy.item() == pytest.approx(3 / 4)  # motion 1 of 2, appearance 2 of 2 (ties go to class 0)
