"""Multi-teacher distillation with AE-KD weights (Du et al. 2020): the min-norm weights and the capped-simplex
projection by hand, teachers fed in their own input statistics, and one epoch through `vssl pretrain`."""

import csv
import math

import pytest
import torch

from vssl.app.pretrain import PretrainConfig, run_pretrain
from vssl.core.config import load_config
from vssl.core.errors import ConfigError
from vssl.data.transforms import KINETICS_MEAN, KINETICS_STD
from vssl.methods.kd import KDConfig, min_norm_weights, project_to_capped_simplex, renormaliser
from vssl.models.checkpoints import save_encoder
from vssl.models.registry import build_backbone
from vssl.models.spec import EncoderSpec


def test_projection_onto_the_capped_simplex_by_hand():
    """(0.9, 0.3, −0.2) − 0.1 clipped to [0, 1] is (0.8, 0.2, 0), summing to 1; with cap 0.6, + 0.1 gives (0.6, 0.4, 0)."""
    values = torch.tensor([0.9, 0.3, -0.2], dtype=torch.float64)
    assert project_to_capped_simplex(values, 1.0).tolist() == pytest.approx([0.8, 0.2, 0.0], abs=1e-9)
    assert project_to_capped_simplex(values, 0.6).tolist() == pytest.approx([0.6, 0.4, 0.0], abs=1e-9)


def test_min_norm_weights_by_hand():
    """Orthogonal gradients of equal length meet halfway; for g₂ = 2·g₁ the shortest combination is g₁ alone, unless
    the cap of 1/2 forces equal weights; (1, 0) and (−1, 1): α₁ = (g₂ − g₁)·g₂ / ‖g₂ − g₁‖² = 3/5."""
    assert min_norm_weights(torch.tensor([[1.0, 0.0], [0.0, 1.0]])).tolist() == pytest.approx([0.5, 0.5], abs=1e-4)
    collinear = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    assert min_norm_weights(collinear).tolist() == pytest.approx([1.0, 0.0], abs=1e-4)
    assert min_norm_weights(collinear, cap=0.5).tolist() == pytest.approx([0.5, 0.5], abs=1e-4)
    assert min_norm_weights(torch.tensor([[1.0, 0.0], [-1.0, 1.0]])).tolist() == pytest.approx([0.6, 0.4], abs=1e-4)


def test_a_teacher_gets_clips_in_its_own_statistics():
    """A Kinetics-normalised value v is the pixel v·0.225 + 0.45; ImageNet's red statistics make it
    (v·0.225 + 0.45 − 0.485) / 0.229."""
    imagenet = EncoderSpec("r3d_18", {}, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    scale, shift = renormaliser(imagenet)
    v = 1.3
    assert float(v * scale[0] + shift[0]) == pytest.approx((v * 0.225 + 0.45 - 0.485) / 0.229)
    assert renormaliser(EncoderSpec("r3d_18", {}, mean=KINETICS_MEAN, std=KINETICS_STD)) is None


def test_settings_are_checked_by_name():
    with pytest.raises(ConfigError, match="method.weighting"):
        KDConfig(teachers=("a.pt",), weighting="best")
    with pytest.raises(ConfigError, match="method.teachers"):
        KDConfig().check_teachers()
    with pytest.raises(ConfigError, match="weight_cap=0.3 × 2 teachers"):
        KDConfig(teachers=("a.pt", "b.pt"), weight_cap=0.3).check_teachers()


@pytest.mark.parametrize("weighting", ["ae-kd", "average"])
def test_one_epoch_with_two_teachers_through_vssl_pretrain(micro_manifest, tmp_path, weighting):
    teachers = []
    for seed, depth in ((1, (1, 1, 1, 1)), (2, (1, 1, 2, 1))):
        torch.manual_seed(seed)
        path = tmp_path / f"teacher{seed}.pt"
        save_encoder(path, build_backbone("r3d_18", width=0.125, depth=depth),
                     EncoderSpec("r3d_18", {"width": 0.125, "depth": depth}))
        teachers.append(str(path))
    overrides = [f"data.manifest={micro_manifest}", "train.batch_size=4", "train.progress=false",
                 "model.width=0.125", "model.depth=[1,1,1,1]", "data.clip_len=4", "data.stride=2",
                 "data.crop_size=24", "data.short_side=[26,30]", "data.num_workers=0", "train.epochs=1",
                 f"method.teachers=[{','.join(teachers)}]", f"method.weighting={weighting}",
                 f"train.out_dir={tmp_path / 'student'}"]
    run = run_pretrain(load_config(PretrainConfig, "kd_world32", "pretrain", overrides))
    with open(next(run.glob("logs/version_*/metrics.csv"))) as file:
        rows = [row for row in csv.DictReader(file) if row.get("train/loss_step")]
    assert rows and all(math.isfinite(float(row["train/loss_step"])) for row in rows)
    for row in rows:
        weights = [float(row[f"train/teacher{i}_weight"]) for i in (0, 1) if row.get(f"train/teacher{i}_weight")]
        if weights:
            assert sum(weights) == pytest.approx(1.0, abs=1e-5)
            if weighting == "average":
                assert weights == [0.5, 0.5]
