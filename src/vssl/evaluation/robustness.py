"""Noise robustness (Kumar et al. 2023, §4.4 and Table 5): the four ImageNet-C noises applied to uint8 test frames,
and the relative accuracy drop R_s = (A_clean − A_corrupt) / A_clean."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vssl.core.errors import ConfigError

# ImageNet-C's constants per severity 1–5 (Hendrycks & Dietterich 2019, make_imagenet_c.py), which Kumar et al. 2023
# §4.4 applies to every frame of the UCF101 test videos.
NOISE_SEVERITIES: dict[str, tuple[float, ...]] = {
    "gaussian": (0.08, 0.12, 0.18, 0.26, 0.38),  # σ of N(0, σ) added to x in [0, 1]
    "shot": (60.0, 25.0, 12.0, 5.0, 3.0),  # photon count c: Poisson(x·c) / c
    "impulse": (0.03, 0.06, 0.09, 0.17, 0.27),  # salt-and-pepper: fraction of values set to 0 or 1
    "speckle": (0.15, 0.2, 0.35, 0.45, 0.6),  # σ of the multiplicative noise: x + x·N(0, σ)
}
NOISES = tuple(NOISE_SEVERITIES)
SEVERITIES = (1, 2, 3, 4, 5)


def check_noise(noise: str, severity: int) -> float:
    """The constant of ``noise`` at ``severity``; unknown names or levels raise naming the valid ones."""
    if noise not in NOISE_SEVERITIES:
        raise ConfigError(f"robustness: unknown noise {noise!r} (valid: {', '.join(NOISES)})")
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ConfigError(f"robustness: severity {severity!r} must be one of {SEVERITIES}")
    return NOISE_SEVERITIES[noise][severity - 1]


def corrupt(frames: np.ndarray, noise: str, severity: int, seed: int) -> np.ndarray:
    """uint8 frames [T, H, W, 3] with ``noise`` at ``severity`` (1–5), every value drawn independently from a
    generator seeded by ``seed``; → uint8 of the same shape.

    As ImageNet-C: x = frames / 255, the noise, clip to [0, 1], × 255, and truncation to uint8 (its np.uint8 cast).
    Salt-and-pepper replaces each value (each channel of each pixel) with probability ``amount``, half of them with
    0 and half with 1, as skimage.util.random_noise(mode="s&p") does."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ConfigError(f"robustness: expected uint8 frames [T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
    c = check_noise(noise, severity)
    rng = np.random.default_rng(seed)
    x = frames.astype(np.float64) / 255.0
    if noise == "gaussian":
        x = x + rng.normal(size=x.shape, scale=c)
    elif noise == "shot":
        x = rng.poisson(x * c) / c
    elif noise == "impulse":
        hit = rng.random(x.shape) < c
        salt = rng.random(x.shape) < 0.5
        x = np.where(hit, salt.astype(np.float64), x)
    else:  # speckle
        x = x + x * rng.normal(size=x.shape, scale=c)
    return (np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class Corruption:
    """A frame filter for a test dataset: ``noise`` at ``severity``, seeded per video by the dataset's draw."""

    noise: str
    severity: int

    def __post_init__(self):
        check_noise(self.noise, self.severity)

    def __call__(self, frames: np.ndarray, seed: int) -> np.ndarray:
        return corrupt(frames, self.noise, self.severity, seed)


def robustness_score(clean: float, corrupted: float) -> float:
    """R_s = (A_clean − A_corrupt) / A_clean (Kumar et al. 2023, Eq. in §4.4): the fraction of accuracy the noise
    takes away; lower is more robust. NaN when the clean accuracy is 0."""
    return (clean - corrupted) / clean if clean > 0 else float("nan")


@dataclass
class RobustnessConfig:
    noises: tuple[str, ...] = NOISES  # Kumar et al. 2023 Table 5: all four
    severities: tuple[int, ...] = SEVERITIES  # ImageNet-C's five levels

    def __post_init__(self):
        self.noises, self.severities = tuple(self.noises), tuple(self.severities)
        if not self.noises or not self.severities:
            raise ConfigError("robustness.noises and robustness.severities must not be empty")
        for noise in self.noises:
            for severity in self.severities:
                check_noise(noise, severity)


def robustness_metrics(clean: float, corrupted: dict[tuple[str, int], float]) -> dict[str, float]:
    """Stored metrics from the clean top-1 and the top-1 per (noise, severity): ``top1_clean``, ``top1_<noise>_s<k>``
    and ``rs_<noise>_s<k>`` for each, ``rs_<noise>`` (mean over the severities run) and ``rs_mean`` (mean over the
    noises, the figure of Kumar et al. 2023, Table 5)."""
    metrics = {"top1_clean": clean}
    per_noise: dict[str, list[float]] = {}
    for (noise, severity), accuracy in corrupted.items():
        score = robustness_score(clean, accuracy)
        metrics[f"top1_{noise}_s{severity}"] = accuracy
        metrics[f"rs_{noise}_s{severity}"] = score
        per_noise.setdefault(noise, []).append(score)
    for noise, scores in per_noise.items():
        metrics[f"rs_{noise}"] = float(np.mean(scores))
    metrics["rs_mean"] = float(np.mean([metrics[f"rs_{noise}"] for noise in per_noise]))
    return metrics
