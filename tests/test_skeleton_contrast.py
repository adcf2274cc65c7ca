"""Skeleton representation learning (Thoker 2023 Ch. 3): the encoders, ST-GCN's graph convolution and the crossed
InfoNCE by hand, the synthetic sprite keypoints against the rendered sprite, NTU `.skeleton` files through the skeleton
dataset, and `vssl pretrain` + the skeleton linear probe end to end."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from vssl.core.config import load_config
from vssl.core.errors import ConfigError, VsslError
from vssl.data.manifest import Sample, read_manifest
from vssl.data.skeleton import SkeletonAugment, SkeletonDataset, read_sequence
from vssl.data.synthetic import PRESETS, _split_code, render_video
from vssl.data.synthetic_skeleton import SkeletonSynthConfig, generate_skeleton, world_keypoints
from vssl.methods.skeleton_contrast import crossed_info_nce
from vssl.models.registry import build_backbone
from vssl.models.skeleton import GraphConvolution, SkeletonLayout, spatial_partitions
from vssl.results.store import ResultStore

from test_ntu_skeleton import skeleton_text

SMALL = {"stgcn": {"width": 0.125, "depth": (1, 1, 1)}, "bigru": {"width": 1 / 64, "depth": (1,)},
         "hcn": {"width": 0.125}}


@pytest.mark.parametrize("layout, joints, bodies", [("", 25, 2), ("_sprite", 5, 1)])
@pytest.mark.parametrize("family", ["stgcn", "bigru", "hcn"])
def test_encoders_map_skeletons_to_features(family, layout, joints, bodies):
    torch.manual_seed(0)
    encoder = build_backbone(family + layout, **SMALL[family])
    x = torch.randn(2, 3, 16, joints, bodies)
    features = encoder(x)
    assert features.shape == (2, encoder.feature_dim) and torch.isfinite(features).all()
    assert encoder.features(x, encoder.tap_names)["pool"].shape == features.shape
    if bodies == 1:  # [B, 3, T, J] is one body
        encoder.eval()
        assert torch.allclose(encoder(x[..., 0]), encoder(x), atol=1e-6)
    with pytest.raises(VsslError, match=f"expects \\[B, 3, T, {joints}, {bodies}\\]"):
        encoder(torch.randn(2, 3, 16, joints + 1, bodies))


def test_default_feature_sizes_are_the_thesis_ones():
    with torch.device("meta"):  # Thoker 2023 App. A.1: 2048 (X^SEQ) and 256 (X^STG) features
        assert (build_backbone("bigru").feature_dim, build_backbone("stgcn").feature_dim) == (2048, 256)


def test_graph_convolution_on_a_three_joint_chain_by_hand():
    chain = SkeletonLayout("chain", joints=3, bodies=1, edges=((1, 2), (2, 3)), centre=1)
    partitions = spatial_partitions(chain)
    # A + I has column degrees 2, 3, 2; root = self-loops, centripetal = ends → middle, centrifugal = middle → ends
    assert torch.allclose(partitions, torch.tensor([[[1 / 2, 0, 0], [0, 1 / 3, 0], [0, 0, 1 / 2]],
                                                    [[0, 1 / 3, 0], [0, 0, 0], [0, 1 / 3, 0]],
                                                    [[0, 0, 0], [1 / 2, 0, 1 / 2], [0, 0, 0]]]))
    gcn = GraphConvolution(1, 1, partitions)
    w0, w1, w2 = 0.5, -2.0, 3.0  # one weight per partition
    with torch.no_grad():
        gcn.conv.weight.copy_(torch.tensor([w0, w1, w2]).view(3, 1, 1, 1))
        gcn.conv.bias.zero_()
    x0, x1, x2 = 1.0, 4.0, -3.0
    out = gcn(torch.tensor([x0, x1, x2]).view(1, 1, 1, 3)).flatten().tolist()
    assert out == pytest.approx([w0 * x0 / 2 + w2 * x1 / 2, w0 * x1 / 3 + w1 * (x0 + x2) / 3,
                                 w0 * x2 / 2 + w2 * x1 / 2])


def test_crossed_info_nce_by_hand():
    def unit(degrees):
        return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]

    tau = 0.07
    q_a, q_b, k_a, k_b = unit(0), unit(90), unit(60), unit(20)
    queue_a, queue_b = [unit(100), unit(200)], [unit(150), unit(-30)]

    def dot(u, v):
        return u[0] * v[0] + u[1] * v[1]

    def term(q, k, queue):  # Thoker 2023 Eq. 3.7
        positive = math.exp(dot(q, k) / tau)
        return -math.log(positive / (positive + sum(math.exp(dot(q, n) / tau) for n in queue)))

    expected = term(q_a, k_b, queue_b) + term(q_b, k_a, queue_a)  # Eq. 3.6: each query meets the other's keys
    tensors = [torch.tensor([v], dtype=torch.float64) for v in (q_a, q_b, k_a, k_b)]
    loss = crossed_info_nce(*tensors, torch.tensor(queue_a, dtype=torch.float64),
                            torch.tensor(queue_b, dtype=torch.float64), tau)
    assert loss.item() == pytest.approx(expected, rel=1e-9)
    uncrossed = term(q_a, k_b, queue_a) + term(q_b, k_a, queue_b)
    assert abs(expected - uncrossed) > 1.0  # the queues matter: a swap would show


@pytest.mark.parametrize("motion", ["drop", "toss", "slide", "float"])
def test_synthetic_keypoints_follow_the_rendered_sprite(motion):
    world = PRESETS["world32"]
    keypoints = world_keypoints(world, motion, np.random.default_rng(7))
    _, centres = render_video(world, motion, "disk", np.random.default_rng(7), return_trajectory=True)
    assert keypoints.shape == (world.num_frames, 5, 3) and keypoints.dtype == np.float32
    assert np.allclose(keypoints[:, 0, :2] * world.size, centres, atol=1e-4)
    half_diagonal = np.linalg.norm(keypoints[:, 1:, :2] - keypoints[:, :1, :2], axis=-1)
    radius = half_diagonal[0, 0] / math.sqrt(2)  # corners of the square of half-side = the radius
    assert np.allclose(half_diagonal, radius * math.sqrt(2), atol=1e-6)
    if motion == "drop":  # a dropped sprite ends resting on the ground: its centre one radius above it
        assert keypoints[-1, 0, 2] == pytest.approx(radius, abs=1e-4)


def test_the_generator_writes_each_world_videos_keypoints(tmp_path):
    manifest = generate_skeleton(tmp_path, SkeletonSynthConfig("tiny", counts={"train": 4, "test": 4}), seed=3,
                                 progress=False)
    samples = read_manifest(manifest)
    assert len(samples) == 8 and {s.labels["motion"] for s in samples} <= set(PRESETS["world32"].motion_classes)
    sample = next(s for s in samples if s.path.endswith("test_00002.npy"))
    rng = np.random.default_rng(np.random.SeedSequence([3, _split_code("test"), 2]))
    assert np.array_equal(np.load(sample.path), world_keypoints(PRESETS["world32"], sample.labels["motion"], rng))


def test_ntu_skeleton_files_and_npy_arrays_load_through_the_skeleton_dataset(tmp_path):
    rng = np.random.default_rng(0)
    frames = [[[tuple(rng.normal(size=3).round(4)) for _ in range(25)]] for _ in range(6)]
    ntu = tmp_path / "S001C002P003R002A013.skeleton"
    ntu.write_text(skeleton_text([[]] + frames + [[]]))  # empty first and last frames are dropped
    sequence = read_sequence(ntu)
    assert sequence.shape == (6, 2, 25, 3) and not sequence[:, 1].any()  # two bodies, the second absent
    assert sequence[2, 0, 7].tolist() == pytest.approx(list(frames[2][0][7]), abs=1e-6)
    sprite = tmp_path / "sprite.npy"
    np.save(sprite, rng.normal(size=(12, 5, 3)).astype(np.float32))

    samples = [Sample(str(ntu), "train", {"label": "a"}), Sample(str(tmp_path / "missing.skeleton"), "train")]
    plain = SkeletonDataset(samples, length=8, label_sets=["label"], class_names={"label": ["a"]})
    assert plain.unreadable == [str(tmp_path / "missing.skeleton")] and len(plain) == 1
    item = plain[0]
    assert item["clips"].shape == (1, 3, 8, 25, 2) and item["labels"].tolist() == [0]
    assert torch.allclose(item["clips"][0, :, 0, :, 0], torch.from_numpy(sequence[0, 0].T))  # centre crop starts at 0
    views = SkeletonDataset(samples[:1], 8, SkeletonAugment(8, jitter_joints=15), views=2, seed=1)[(0, 0)]["clips"]
    assert views.shape == (2, 3, 8, 25, 2) and not torch.equal(views[0], views[1])
    assert build_backbone("stgcn", **SMALL["stgcn"])(views).isfinite().all()
    assert SkeletonDataset([Sample(str(sprite))], 8)[0]["clips"].shape == (1, 3, 8, 5, 1)


def test_pretrain_cli_then_skeleton_linear_probe(tmp_path):
    from vssl.app.evaluate import EvalConfig, run_eval

    manifest = generate_skeleton(tmp_path / "data", SkeletonSynthConfig(
        "micro", counts={"pretrain": 16, "train": 16, "test": 8}), progress=False)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "pretrain", "skeleton_contrast_world32",
                           f"data.manifest={manifest}", "train.epochs=1", "train.batch_size=8",
                           "train.progress=false", f"train.out_dir={run}", "data.clip_len=12", "method.queue_size=64"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run / "encoder.pt").is_file()
    store = tmp_path / "results.sqlite"
    config = load_config(EvalConfig, "skeleton_world32", "eval", [
        f"data.manifest={manifest}", f"encoder.checkpoint={run / 'encoder.pt'}", "data.clip_len=12",
        f"store={store}", "progress=false", "linear.epochs=3"])
    run_eval(["skeleton_linear", "skeleton_knn"], config)
    stored = ResultStore(store).query()
    assert {(r.protocol, r.metric) for r in stored} == {(p, m) for p in ("skeleton_linear", "skeleton_knn")
                                                        for m in ("top1", "mean_class_acc")}
    assert all(math.isfinite(r.value) and 0 <= r.value <= 100 and r.n_videos == 8 for r in stored)
    assert {r.encoder for r in stored} == {"run"}
    with pytest.raises(ConfigError, match="cannot run with"):
        run_eval(["skeleton_linear", "knn"], config)
