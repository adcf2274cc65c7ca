"""Curriculum learning (Wang 2020 §3.2): motion concentration, easy-to-hard order, single-step pacing and the 50 %
subsets with exact indices; the statistics method's loss, label wiring, missing-cache error and a short pre-training."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vssl.app.pretrain import PretrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.core.errors import ConfigError, VsslError
from vssl.core.optim import OptimConfig
from vssl.methods.curriculum import CurriculumOrder, curriculum_indices, easy_to_hard, motion_concentration
from vssl.methods.flow_statistics import summarize_motion
from vssl.methods.label_cache import LabelTable, VideoLabels, compute_statistics_labels, default_labels_path
from vssl.methods.statistics import Statistics, StatisticsConfig, statistics_loss
from vssl.models.registry import build_backbone

# --- score and order -------------------------------------------------------------------------------------------


def test_motion_concentration_of_hand_made_magnitudes():
    magnitude_u = np.zeros((64, 64))
    magnitude_u[0:5, 0:6] = 1.0  # block 0: sum 30
    magnitude_u[20:22, 20:25] = 2.0  # block 5: sum 20 → block 0 has the larger average: 30 / 50
    magnitude_v = np.zeros((64, 64))
    magnitude_v[50:53, 50:53] = 1.0  # block 15: sum 9
    magnitude_v[0:2, 60] = 0.5  # block 3: sum 1 → 9 / 10
    assert motion_concentration(magnitude_u, magnitude_v) == pytest.approx(0.9)
    assert motion_concentration(magnitude_u, np.zeros((64, 64))) == pytest.approx(0.6)
    assert motion_concentration(np.zeros((64, 64)), np.zeros((64, 64))) == 0.0  # no motion: hardest


def _flow_with_windows(corners: list[tuple[int, int]]) -> np.ndarray:
    """7 flows of 64²: u = 2 on an 8×8 window at each (row, column) corner, each well inside one grid block."""
    flow = np.zeros((7, 64, 64, 2), dtype=np.float32)
    for row, column in corners:
        flow[:, row:row + 8, column:column + 8, 0] = 2.0
    return flow


def test_clips_are_ordered_by_motion_concentration():
    one_region = _flow_with_windows([(20, 20)])  # all boundaries in block 5: f = 1
    two_regions = _flow_with_windows([(20, 20), (36, 36)])  # blocks 5 and 10 alike: f = 1/2
    four_regions = _flow_with_windows([(4, 4), (20, 20), (36, 36), (52, 52)])  # f = 1/4
    scores = []
    for flow in (four_regions, one_region, two_regions):
        summary = summarize_motion(flow)
        scores.append(motion_concentration(summary.magnitude_u, summary.magnitude_v))
    assert scores == pytest.approx([0.25, 1.0, 0.5])
    assert easy_to_hard(scores).tolist() == [1, 2, 0]
    assert easy_to_hard([0.3, 0.7, 0.3, 0.7]).tolist() == [1, 3, 0, 2]  # ties keep dataset order


# --- pacing and subsets ----------------------------------------------------------------------------------------

SCORES = [0.1, 0.8, 0.3, 0.9, 0.5, 0.2]  # easy → hard: 3, 1, 4, 2, 5, 0


def _epoch(order: CurriculumOrder, epoch: int) -> list[tuple[int, int]]:
    order.set_epoch(epoch)
    return list(order)


def test_single_step_pacing_trains_on_the_easiest_half_then_on_everything():
    order = CurriculumOrder(SCORES, "single_step", step_epochs=2, seed=0)
    for epoch in (0, 1):  # six clips an epoch throughout: the three easiest videos twice each
        keys = _epoch(order, epoch)
        assert sorted(i for _, i in keys) == [1, 1, 3, 3, 4, 4] and {e for e, _ in keys} == {epoch}
        assert sorted(i for _, i in keys[:3]) == [1, 3, 4]  # two full passes, not one video four times
    for epoch in (2, 5):
        assert sorted(i for _, i in _epoch(order, epoch)) == [0, 1, 2, 3, 4, 5]
    assert len(order) == 6
    odd = CurriculumOrder(SCORES[:5], "single_step", step_epochs=1, seed=0)  # easiest ⌈5/2⌉ = 3, five clips
    assert len(_epoch(odd, 0)) == 5 and {i for _, i in _epoch(odd, 0)} == {1, 3, 4}
    again = CurriculumOrder(SCORES, "single_step", step_epochs=2, seed=0)
    assert _epoch(again, 3) == _epoch(order, 3)  # the shuffle is a function of (seed, epoch)
    assert _epoch(order, 3) != _epoch(order, 4)


def test_half_subsets_of_the_ablation():
    assert curriculum_indices(SCORES, "easiest_half", 0, 10).tolist() == [3, 1, 4]
    assert curriculum_indices(SCORES, "hardest_half", 7, 10).tolist() == [2, 5, 0]
    assert curriculum_indices(SCORES, "random_half", 0, 10).tolist() == [0, 2, 4]  # every second video
    five = SCORES[:5]  # easy → hard: 3, 1, 4, 2, 0; halves of ⌈5/2⌉ and ⌊5/2⌋
    assert curriculum_indices(five, "easiest_half", 0, 10).tolist() == [3, 1, 4]
    assert curriculum_indices(five, "hardest_half", 0, 10).tolist() == [2, 0]
    assert curriculum_indices(five, "random_half", 0, 10).tolist() == [0, 2, 4]
    assert len(CurriculumOrder(five, "hardest_half", 10)) == 2
    with pytest.raises(ConfigError, match="method.curriculum: unknown curriculum 'easy'"):
        StatisticsConfig(curriculum="easy")


# --- the statistics method -------------------------------------------------------------------------------------


def test_statistics_loss_weights_the_mean_squared_errors():
    motion = statistics_loss(torch.zeros(2, 14), torch.ones(2, 14), torch.zeros(2, 13), torch.full((2, 13), 2.0),
                             motion_weight=1.0, appearance_weight=0.1)
    assert motion.item() == pytest.approx(1.0 * 1.0 + 0.1 * 4.0)


def test_flipped_clips_are_regressed_onto_the_mirrored_labels():
    torch.manual_seed(0)
    config = StatisticsConfig(head_hidden=16)
    as_decoded, as_mirrored = np.ones((1, 14)), np.full((1, 14), 5)
    videos = {f"v{i}.mp4": VideoLabels((0, 0), np.array([8 * i]), np.stack([as_decoded, as_mirrored], axis=1),
                                       np.stack([np.zeros((1, 13)), np.full((1, 13), 3)], axis=1), np.ones(1))
              for i in range(4)}
    method = Statistics(build_backbone("r3d_18", width=0.125, depth=(1, 1, 1, 1)), config, OptimConfig(lr=0.1),
                        prepared=LabelTable(Path("labels.npz"), videos, "command"))
    method.manual_backward = lambda loss: loss.backward()  # outside a Trainer
    method.eval()  # fixed BN statistics so the expected forward matches
    clips = torch.randn(4, 1, 3, 4, 16, 16)
    frames = torch.tensor([[[8 * i + 2 * t for t in range(4)]] for i in range(4)])
    loss = method.train_batch({"clips": clips, "frames": frames, "paths": list(videos)})
    mirrored = method.flips(4)
    assert 0 < int(mirrored.sum()) < 4  # the test sees both kinds
    with torch.no_grad():
        inputs = torch.where(mirrored.view(-1, 1, 1, 1, 1), clips[:, 0].flip(-1), clips[:, 0])
        features = method.backbone(inputs)
        motion_target = torch.where(mirrored.view(-1, 1), 5.0, 1.0).expand(4, 14)
        appearance_target = torch.where(mirrored.view(-1, 1), 3.0, 0.0).expand(4, 13)
        expected = statistics_loss(method.motion_head(features), motion_target, method.appearance_head(features),
                                   appearance_target, 1.0, 0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


SMALL = ["train.batch_size=4", "train.progress=false", "model.width=0.125", "model.depth=[1,1,1,1]",
         "data.clip_len=4", "data.stride=2", "data.crop_size=32", "data.num_workers=0", "method.name=statistics",
         "method.head_hidden=32", "optim.lr=0.01", "optim.warmup_epochs=0"]


def test_missing_labels_name_the_command_that_computes_them(micro_manifest, tmp_path):
    missing = tmp_path / "missing.npz"
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path}", f"method.labels={missing}", *SMALL]
    command = (f"vssl data labels statistics {micro_manifest} --split pretrain --clip-len 4 --stride 2 "
               f"--out {missing}")
    with pytest.raises(VsslError) as error:
        run_pretrain(load_config(PretrainConfig, None, "pretrain", overrides))
    assert str(error.value) == f"{missing}: statistics labels not found; compute them first with: {command}"
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path}", "method.position_step=3", *SMALL]
    with pytest.raises(VsslError, match="--stride 2 --position-step 3$") as error:
        run_pretrain(load_config(PretrainConfig, None, "pretrain", overrides))
    assert str(error.value).startswith(str(default_labels_path(micro_manifest, "pretrain", 4, 2, 3)))


def test_statistics_pretrains_on_the_easiest_half(micro_manifest, tmp_path):
    labels = compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, out=tmp_path / "labels.npz",
                                       progress=False)
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path / 'run'}", "train.epochs=2",
                 f"method.labels={labels}", "method.curriculum=easiest_half", *SMALL]
    run = run_pretrain(load_config(PretrainConfig, None, "pretrain", overrides))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "statistics"
    assert summary["steps"] == 2 * (8 // 4)  # the loader follows the curriculum: 8 of the 16 videos per epoch
    assert np.isfinite(summary["final_loss"])
    assert (run / "encoder.pt").is_file()


def test_compute_labels_builds_a_missing_cache_before_training(micro_manifest, tmp_path):
    labels = tmp_path / "computed.npz"
    overrides = [f"data.manifest={micro_manifest}", f"train.out_dir={tmp_path / 'run'}", "train.epochs=1",
                 f"method.labels={labels}", "method.compute_labels=true", *SMALL]
    run = run_pretrain(load_config(PretrainConfig, None, "pretrain", overrides))
    assert labels.is_file() and (run / "encoder.pt").is_file()
    expected = compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2,
                                         out=tmp_path / "direct.npz", progress=False)
    computed, direct = np.load(labels, allow_pickle=False), np.load(expected, allow_pickle=False)
    assert sorted(computed.files) == sorted(direct.files)
    assert all(np.array_equal(computed[k], direct[k]) for k in direct.files if k != "settings")
