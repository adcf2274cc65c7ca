"""Modality transfer (Thoker 2023, Ch. 2): losses by hand, depth order, flow of a square, pretrain → few-shot eval."""

import dataclasses
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from vssl.app.evaluate import EvalData, EvalDataConfig
from vssl.app.pretrain import PretrainDataConfig
from vssl.core.errors import ConfigError
from vssl.data.manifest import read_manifest
from vssl.data.modality import ModalityFiles, for_modality
from vssl.data.optical_flow import FLOW_BOUND, OpticalFlow, flow_clip
from vssl.data.synthetic import BACKGROUND_POOL_SEED, PRESETS, render_video
from vssl.data.synthetic_depth import (GROUND_FAR, GROUND_SCALE, SKY_DEPTH, generate_depth, ground_depth, render_depth,
                                       render_pair)
from vssl.data.synthetic_world import draw_world_layout
from vssl.data.transforms import Normalize, build_multi_crop_eval_transform, to_float_video
from vssl.data.video import open_video
from vssl.methods import create
from vssl.methods.kd import feature_distance
from vssl.methods.modality_transfer import (ModalityTransfer, ModalityTransferConfig, TransferClipSampler,
                                             video_features)
from vssl.models.checkpoints import load_encoder, save_encoder
from vssl.models.registry import build_backbone
from vssl.models.spec import EncoderSpec
from vssl.results.store import ResultStore

TINY = {"width": 0.125, "depth": (1, 1, 1, 1)}


def test_cosine_and_mse_distances_by_hand():
    """cos((1, 0), (1, 1)) = 1/√2 and cos((0, 2), (0, −1)) = −1: distances 1 − 1/√2 and 2, mean (3 − 1/√2) / 2;
    MSE: ((0 + 1) + (0 + 9)) / 4 = 2.5."""
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    teacher = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
    assert float(feature_distance(student, teacher)) == pytest.approx((3 - 1 / math.sqrt(2)) / 2)
    assert float(feature_distance(student, teacher, "mse")) == pytest.approx(2.5)
    assert float(feature_distance(student, 3 * student)) == pytest.approx(0.0, abs=1e-7)  # scale-free
    with pytest.raises(ConfigError, match="method.granularity"):
        ModalityTransferConfig(granularity="frame-to-frame")


class ChannelMeans(nn.Module):
    """A stand-in encoder: clips [B, 3, T, H, W] → their channel means [B, 3], times a learnable scale."""

    feature_dim = 3

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, clips):
        return clips.mean(dim=(2, 3, 4)) * self.scale


def constant_views(vectors) -> torch.Tensor:
    """One video's views [1, V, 3, 2, 4, 4], view v filled with the 3-vector ``vectors[v]`` per channel."""
    return torch.tensor(vectors, dtype=torch.float32).view(1, len(vectors), 3, 1, 1, 1).expand(1, -1, 3, 2, 4, 4)


@pytest.fixture
def transfer(tmp_path):
    """A modality-transfer method whose student and frozen teacher are channel means (losses computable by hand)."""
    torch.manual_seed(0)
    path = tmp_path / "teacher.pt"
    save_encoder(path, build_backbone("r3d_18", **TINY), EncoderSpec("r3d_18", TINY))
    method = create("modality_transfer", build_backbone("r3d_18", **TINY), teacher=str(path))
    method.backbone, method.teachers = ChannelMeans(), nn.ModuleList([ChannelMeans().requires_grad_(False)])
    method.manual_backward = lambda loss: loss.backward()  # outside a Trainer
    return method


def test_video_to_clip_averages_the_teacher_over_the_clips_by_hand(transfer):
    """Views (student, teacher) per clip: the random clip (1, 0, 0) / (1, 1, 0), then N = 2 uniform clips whose
    teacher views (0, 1, 0) and (0, 0, 1) average to (0, ½, ½), orthogonal to the student: video-to-clip distance 1,
    clip-to-clip 1 − 1/√2, combined their sum; video-to-video: students (1, 0, 0), (0, 1, 0) average to (½, ½, 0)
    against the teachers' (0, ½, ½): 1 − ¼ / (½·½·2) = ½."""
    views = constant_views([[1, 0, 0], [1, 1, 0], [9, 9, 9], [0, 1, 0], [9, 9, 9], [0, 0, 1]])
    teacher = transfer.teachers[0]
    assert video_features(teacher, views[:, 3::2])[0].tolist() == pytest.approx([0.0, 0.5, 0.5])
    expected = {"clip-to-clip": 1 - 1 / math.sqrt(2), "video-to-clip": 1.0, "combined": 2 - 1 / math.sqrt(2)}
    for granularity, loss in expected.items():
        transfer.config.granularity = granularity
        assert float(transfer.train_views(views)) == pytest.approx(loss, abs=1e-6), granularity
    transfer.config.granularity = "video-to-video"
    videos = constant_views([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]])
    assert float(transfer.train_views(videos)) == pytest.approx(0.5, abs=1e-6)
    assert transfer.backbone.scale.grad is not None and transfer.teachers[0].scale.grad is None
    transfer.train()
    assert not transfer.teachers[0].training  # the teacher stays frozen in eval mode


def test_the_sampler_gives_a_random_clip_then_the_videos_uniform_clips():
    sampler = TransferClipSampler(clip_len=4, stride=2, random_clip=True, video_clips=3)
    clips = sampler(48, 16.0, np.random.default_rng(0))
    assert len(clips) == sampler.num_clips == 4
    # the uniform clips start at linspace(0, 48 − 7, 3) with halves rounded up
    assert [c[0] for c in clips[1:]] == [0, 21, 41] and all(np.diff(c).tolist() == [2, 2, 2] for c in clips)
    assert len(TransferClipSampler(4, 2, random_clip=False, video_clips=3)(48, 16.0, None)) == 3


def test_depth_puts_the_sprite_before_the_ground_behind_it_and_the_sky_farthest():
    config = PRESETS["world32"]
    layout = draw_world_layout(config, "drop", np.random.default_rng(3), BACKGROUND_POOL_SEED)
    depth = render_depth(config, layout, "disk")
    assert depth.shape == (config.num_frames, 32, 32)
    for t in (0, config.num_frames - 1):  # falling, then at rest on the ground
        horizon = layout.horizon - layout.shifts[t, 1]
        x, y = np.round(layout.centres[t]).astype(int)
        sprite = depth[t, y, x]
        behind = depth[t, math.ceil(horizon), x + 12 if x < 16 else x - 12]  # the ground just below the horizon
        sky = depth[t, 0, x + 12 if x < 16 else x - 12]
        assert sprite < behind < sky == SKY_DEPTH == depth[t].max()
    rows = np.arange(28.0, 32.0)
    assert ground_depth(rows, 26.0, 32) == pytest.approx(GROUND_SCALE * 32 / (rows - 26))  # nearer further down
    assert ground_depth(np.array([26.0]), 26.0, 32)[0] == GROUND_FAR
    video, depth_video = render_pair(config, "drop", "disk", np.random.default_rng(3))
    assert np.array_equal(video, render_video(config, "drop", "disk", np.random.default_rng(3)))  # paired
    assert np.array_equal(depth_video[..., 0], np.round(depth * 255).astype(np.uint8))


def test_flow_of_a_translated_square_is_the_translation():
    """A textured 24² square moving (2, 1) px a frame over a flat 64² frame: u = 2 / (FLOW_BOUND·64), v = 1 / (…)."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((24, 24)).astype(np.float32), (0, 0), 1.5)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    frames = np.full((4, 64, 64, 3), 0.3, np.float32)
    for t in range(4):
        frames[t, 16 + t: 40 + t, 12 + 2 * t: 36 + 2 * t] = texture[..., None]
    flow = flow_clip(torch.from_numpy(frames).permute(3, 0, 1, 2))
    bound = FLOW_BOUND * 64
    inside = flow[:, :3, 20:36, 18:30].flatten(1).median(dim=1).values * bound
    assert inside.tolist() == pytest.approx([2.0, 1.0, math.sqrt(5)], abs=0.1)
    assert torch.equal(flow[:, 3], flow[:, 2]) and flow[:2].abs().max() <= 1  # T frames kept, clipped to ±1
    views = OpticalFlow()(torch.from_numpy(frames).permute(3, 0, 1, 2).expand(2, -1, -1, -1, -1))
    assert torch.equal(views[1], flow)
    recipe = for_modality(build_multi_crop_eval_transform(32, 32, 1), "flow")  # flow of the crop, not normalised
    assert isinstance(recipe.transforms[-1], OpticalFlow) and not any(isinstance(t, Normalize)
                                                                      for t in recipe.transforms)


@pytest.fixture(scope="module")
def depth_manifest(tmp_path_factory):
    """12 paired RGB-depth world videos of 16 frames (2 motions × 2 shapes): 8 to transfer on, 8 labelled, 4 to test."""
    config = dataclasses.replace(PRESETS["world32"], name="depth_micro", num_frames=16, jitter_px=0,
                                 motion_classes=("drop", "float"), appearance_classes=("disk", "bar"),
                                 counts={"pretrain": 8, "train": 8, "test": 4})
    return generate_depth(tmp_path_factory.mktemp("depth"), config, progress=False)


def test_each_view_and_each_evaluated_clip_is_in_its_encoders_modality(depth_manifest):
    """The transfer's views of a clip are [student, teacher] from their own files' channels; `vssl eval` feeds a
    depth encoder the depth video's frames and a flow encoder the flow of its RGB crops."""
    data = PretrainDataConfig(manifest=str(depth_manifest), crop_size=24, short_side=(26, 30), modality="depth")
    method = ModalityTransferConfig(teacher="teacher.pt", teacher_modality="rgb")
    files = ModalityTransfer.input_files(method, data)
    stacked = torch.cat([torch.full((3, 4, 32, 32), 0.2), torch.full((3, 4, 32, 32), 0.7)])  # depth file, RGB file
    views = ModalityTransfer.build_transform(method, data)(stacked, torch.Generator().manual_seed(0))
    assert files.sources == ["depth", "rgb"] and views.shape == (2, 3, 4, 24, 24)
    for view, value in zip(views, (0.2, 0.7)):  # each from its own file's channels, Kinetics-normalised (depth too)
        assert torch.allclose(view, torch.full_like(view, (value - 0.45) / 0.225), atol=1e-5)
    config = EvalDataConfig(manifest=str(depth_manifest), labels=("motion",), clip_len=4, stride=2, num_clips=2,
                            crop_size=24, short_side=24, num_workers=0)
    sample = read_manifest(depth_manifest, split="test")[0]
    assert ModalityFiles(depth_manifest, ("depth",))(sample) == [sample.path.replace(".mp4", ".depth.mp4")]
    for modality, path in (("depth", sample.path.replace(".mp4", ".depth.mp4")), ("flow", sample.path)):
        evaluated = EvalData(config, False, EncoderSpec("r3d_18", TINY, modality=modality))
        item = evaluated.clips(evaluated.test, ["motion"])[0]
        with open_video(path) as reader:
            frames = reader.read(item["frames"].flatten().tolist())
        recipe = for_modality(build_multi_crop_eval_transform(24, 24, 1), modality)
        expected = torch.stack([recipe(to_float_video(frames[k * 4:(k + 1) * 4]))[0] for k in range(2)])
        assert evaluated.test[0] == sample and torch.equal(item["clips"], expected), modality
        assert evaluated.views_key()["modality"] == modality


def vssl(*args, tmp_path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "vssl.app.cli", *args], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_depth_student_through_vssl_pretrain_then_few_shot_finetune(depth_manifest, tmp_path):
    """A random-init RGB teacher, one epoch of transfer to a depth student on the paired videos, then `vssl eval
    finetune` of the student (its file says depth) on 2 labelled videos per class with 2 seeds."""
    torch.manual_seed(0)
    save_encoder(tmp_path / "teacher.pt", build_backbone("r3d_18", **TINY), EncoderSpec("r3d_18", TINY))
    clips = ["data.clip_len=4", "data.stride=2", "data.num_workers=0"]
    vssl("pretrain", "modality_transfer_world32", f"data.manifest={depth_manifest}", "method.teacher=teacher.pt",
         "method.video_clips=2", "train.epochs=1", "train.batch_size=4", "model.width=0.125", "data.crop_size=24",
         "data.short_side=[26,30]", "train.out_dir=student", "train.progress=false", *clips, tmp_path=tmp_path)
    _, spec, _ = load_encoder(tmp_path / "student" / "encoder.pt")
    assert spec.modality == "depth" and spec.to_dict()["modality"] == "depth"
    vssl("eval", "finetune", "modality_transfer_world32_fewshot", f"data.manifest={depth_manifest}",
         "encoder.checkpoint=student/encoder.pt", "data.train_subset=4", "finetune.epochs=1", "finetune.batch_size=4",
         "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "store=results.sqlite", "progress=false",
         "--seeds", "2", *clips, tmp_path=tmp_path)
    results = ResultStore(tmp_path / "results.sqlite").query(protocol="finetune")
    top1 = [r for r in results if r.metric == "top1"]
    assert sorted(r.seed for r in top1) == [0, 1] and all(math.isfinite(r.value) and r.n_videos == 4 for r in top1)
