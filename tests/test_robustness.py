"""Noise robustness (Kumar et al. 2023, Table 5): the four ImageNet-C noises against their published formulas and
constants, the R_s score by hand, and `vssl eval robustness` end to end in a real process."""

import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from vssl.core.errors import ConfigError
from vssl.evaluation.robustness import NOISE_SEVERITIES, corrupt, robustness_metrics, robustness_score

GREY = np.full((4, 64, 64, 3), 102, dtype=np.uint8)  # x = 0.4: no clipping for the mild severities


def test_the_constants_are_imagenet_c():
    """Hendrycks & Dietterich 2019, make_imagenet_c.py, as the digest of Kumar et al. 2023 lists them."""
    assert NOISE_SEVERITIES == {"gaussian": (0.08, 0.12, 0.18, 0.26, 0.38), "shot": (60, 25, 12, 5, 3),
                                "impulse": (0.03, 0.06, 0.09, 0.17, 0.27), "speckle": (0.15, 0.2, 0.35, 0.45, 0.6)}


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_gaussian_noise_adds_sigma_c_and_truncates(severity):
    c = NOISE_SEVERITIES["gaussian"][severity - 1]
    out = corrupt(GREY, "gaussian", severity, seed=0).astype(np.float64)
    assert abs(out.std() / 255 - c) < 0.03 * c
    assert abs(out.mean() - (102 - 0.5)) < 0.5  # N(0, c) has mean 0; the uint8 cast truncates by 0.5 on average


@pytest.mark.parametrize("severity", [1, 2, 5])
def test_shot_noise_is_poisson_counts_over_c(severity):
    c = NOISE_SEVERITIES["shot"][severity - 1]
    out = corrupt(GREY, "shot", severity, seed=0)
    counts = np.arange(0, 3 * c + 10)
    lattice = np.unique((np.clip(counts / c, 0, 1) * 255).astype(np.uint8))
    assert np.isin(out, lattice).all()  # every value is a whole photon count k / c
    if severity == 5:
        return  # at c = 3 most counts clip at 1: the moments below no longer hold
    x = 102 / 255
    assert abs(out.mean() / 255 - x) < 0.02  # E[Poisson(xc) / c] = x
    assert abs(out.astype(np.float64).std() / 255 - np.sqrt(x / c)) < 0.05 * np.sqrt(x / c)


@pytest.mark.parametrize("severity", [1, 4])
def test_impulse_noise_sets_a_fraction_amount_of_values_to_0_or_255_in_equal_parts(severity):
    amount = NOISE_SEVERITIES["impulse"][severity - 1]
    out = corrupt(GREY, "impulse", severity, seed=0)
    salt, pepper = (out == 255).mean(), (out == 0).mean()
    assert abs(salt + pepper - amount) < 0.1 * amount
    assert abs(salt - pepper) < 0.15 * amount
    assert set(np.unique(out)) <= {0, 102, 255}  # values are replaced, never shifted


def test_speckle_noise_scales_with_the_value():
    c = NOISE_SEVERITIES["speckle"][0]
    frames = np.zeros((4, 64, 64, 3), dtype=np.uint8)
    frames[:, :32] = 102
    out = corrupt(frames, "speckle", 1, seed=0).astype(np.float64)
    assert (out[:, 32:] == 0).all()  # x + x·N(0, c) leaves black black
    assert abs(out[:, :32].std() / 255 - 0.4 * c) < 0.05 * 0.4 * c


def test_corrupt_keeps_shape_and_dtype_and_is_seeded():
    frames = np.random.default_rng(0).integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    for noise in NOISE_SEVERITIES:
        out = corrupt(frames, noise, 3, seed=7)
        assert out.shape == frames.shape and out.dtype == np.uint8
        assert np.array_equal(out, corrupt(frames, noise, 3, seed=7))
        assert not np.array_equal(out, corrupt(frames, noise, 3, seed=8))


def test_bad_noise_severity_or_frames_are_refused_by_name():
    with pytest.raises(ConfigError, match="unknown noise 'blur'"):
        corrupt(GREY, "blur", 1, 0)
    with pytest.raises(ConfigError, match="severity 6"):
        corrupt(GREY, "gaussian", 6, 0)
    with pytest.raises(ConfigError, match="uint8 frames"):
        corrupt(GREY.astype(np.float32), "gaussian", 1, 0)


def test_robustness_score_and_metrics_by_hand():
    assert robustness_score(0.8, 0.6) == pytest.approx(0.25)
    assert np.isnan(robustness_score(0.0, 0.0))
    metrics = robustness_metrics(0.8, {("gaussian", 1): 0.6, ("gaussian", 5): 0.2, ("shot", 1): 0.8})
    assert metrics["top1_clean"] == 0.8 and metrics["top1_gaussian_s5"] == 0.2
    assert metrics["rs_gaussian_s1"] == pytest.approx(0.25) and metrics["rs_gaussian_s5"] == pytest.approx(0.75)
    assert metrics["rs_gaussian"] == pytest.approx(0.5) and metrics["rs_shot"] == pytest.approx(0.0)
    assert metrics["rs_mean"] == pytest.approx(0.25)  # mean over noises of their mean over severities


def test_vssl_eval_robustness_and_finetune_share_one_training(micro_manifest, tmp_path):
    """One process, both protocols: finetune's top-1 is robustness's clean top-1 (one fine-tuned model), and every
    noise and severity asked for is stored with its R_s."""
    store = tmp_path / "results.sqlite"
    args = [f"data.manifest={micro_manifest}", "data.labels=[motion]", "data.clip_len=4", "data.stride=2",
            "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0",
            "encoder.width=0.125", "encoder.depth=[1,1,1,1]", "finetune.epochs=6", "finetune.lr=0.01",
            "finetune.milestones=[]", "finetune.optimizer=adam", "finetune.dropout=0", "finetune.batch_size=4",
            "robustness.noises=[impulse,gaussian]", "robustness.severities=[1,5]", f"store={store}",
            "progress=false"]
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "finetune,robustness", *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(store) as db:
        rows = dict(db.execute("select protocol || ':' || metric, value from results"))
    assert rows["finetune:top1"] == rows["robustness:top1_clean"]
    expected = {f"robustness:{m}" for m in ("top1_clean", "rs_mean", "rs_impulse", "rs_gaussian")}
    expected |= {f"robustness:{k}_{n}_s{s}" for k in ("top1", "rs") for n in ("impulse", "gaussian") for s in (1, 5)}
    assert expected <= set(rows)
    for noise in ("impulse", "gaussian"):
        clean, corrupted = rows["robustness:top1_clean"], rows[f"robustness:top1_{noise}_s5"]
        assert rows[f"robustness:rs_{noise}_s5"] == pytest.approx((clean - corrupted) / clean)
