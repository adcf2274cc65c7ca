"""Temporal action localization on frozen snippet features (Resnick et al. 2019, Tables 3–4; BSN, Lin et al. 2018): the
"NFC"/"DFC" front ends, TEM and PEM training, scored proposals per video, and their metrics (AR@AN, recall against
tIoU, per-class recall, detection mAP with a video-level classifier). Times are fractions of a video in [0, 1]
until :func:`to_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.evaluation import bsn
from vssl.evaluation.detection import ACTIVITYNET_DETECTION_TIOU, THUMOS_DETECTION_TIOU, detection_map
from vssl.evaluation.proposals import ACTIVITYNET_TIOU, AN_POINTS, THUMOS_TIOU, average_recall_at, recall_at_tiou

FRONT_ENDS = ("nfc", "dfc")  # Resnick et al. 2019, Tables 3–4: raw frozen features, or a trained reducer to 400-d
TIOU_SETS = {"thumos": (THUMOS_TIOU, THUMOS_DETECTION_TIOU), "activitynet": (ACTIVITYNET_TIOU,
                                                                              ACTIVITYNET_DETECTION_TIOU)}
RECALL_BUDGET = 100  # per-class recall and the recall-vs-tIoU curve at AR@100's budget (BSN's headline AN)
CLASS_RECALL_TIOU = 0.5


@dataclass
class LocalizationConfig:
    # ActivityNet-style JSON (ActivityNet, Gymnastics) or a folder of THUMOS14 <Class>_<split>.txt files;
    # "" = the annotations.json beside the manifest (what `vssl data synth --preset world32_untrimmed` writes)
    annotations: str = ""
    snippet_stride: int = ranged(16, ge=1)  # frames per snippet (BSN §4.1: 16 on ActivityNet)
    scale: int = ranged(bsn.TEMPORAL_SCALE, ge=4)  # snippet features rescaled to 100 positions (BSN §4.1)
    front_end: str = "nfc"  # nfc | dfc (the rows of Resnick et al. 2019, Tables 3–4)
    reduced_dim: int = ranged(400, ge=1)  # DFC's width (Resnick et al. 2019, Tables 3–4)
    # thumos: AR over tIoU 0.5:0.05:1.0, mAP at 0.3–0.7 | activitynet: AR over 0.5:0.05:0.95, mAP at 0.5/0.75/0.95
    tiou: str = "thumos"
    batch_size: int = ranged(16, ge=1)  # videos per step, TEM and PEM (BSN's released defaults)
    tem_epochs: int = ranged(30, ge=1)  # TEM: Adam 1e-3, 30 epochs, lr × 0.1 every 7 (Resnick et al. 2019's BSN fork)
    tem_lr: float = ranged(1e-3, gt=0)
    tem_step: int = ranged(7, ge=1)
    tem_weight_decay: float = ranged(1e-4, ge=0)  # BSN's released defaults
    pem_epochs: int = ranged(20, ge=1)  # PEM: Adam 1e-2, 20 epochs, lr × 0.1 every 10 (BSN's released defaults)
    pem_lr: float = ranged(1e-2, gt=0)
    pem_step: int = ranged(10, ge=1)
    pem_weight_decay: float = ranged(1e-5, ge=0)
    gamma: float = ranged(0.1, gt=0)
    soft_nms_epsilon: float = ranged(bsn.SOFT_NMS_EPSILON, gt=0)
    max_proposals: int = ranged(bsn.MAX_PROPOSALS, ge=1)
    # detection: each proposal with the video's top classes (BSN §4.3: 2 on THUMOS14)
    classes_per_video: int = ranged(2, ge=1)

    def check(self) -> None:
        if self.front_end not in FRONT_ENDS:
            raise ConfigError(f"localization.front_end={self.front_end!r}: expected one of {', '.join(FRONT_ENDS)}")
        if self.tiou not in TIOU_SETS:
            raise ConfigError(f"localization.tiou={self.tiou!r}: expected one of {', '.join(TIOU_SETS)}")


class TemporalModel(nn.Module):
    """The DFC reducer (a position-wise Linear(D → reduced_dim) + ReLU, trained with TEM) or none (NFC), then TEM:
    features [B, T, D] → probabilities [B, 3, T] (actionness, start, end)."""

    def __init__(self, feature_dim: int, config: LocalizationConfig):
        super().__init__()
        dfc = config.front_end == "dfc"
        self.reducer = nn.Sequential(nn.Linear(feature_dim, config.reduced_dim), nn.ReLU()) if dfc else nn.Identity()
        self.tem = bsn.TEM(config.reduced_dim if dfc else feature_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.tem(self.reducer(features).transpose(1, 2))


def _seeded(build, generator: torch.Generator) -> nn.Module:
    """``build()`` with its initial weights drawn from ``generator`` (not from torch's global RNG, whose state
    depends on whether the features came from the cache)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        return build()


def _train(model: nn.Module, inputs: torch.Tensor, step_loss, epochs: int, lr: float, weight_decay: float,
           step: int, gamma: float, batch_size: int, generator: torch.Generator) -> nn.Module:
    """Adam with a step schedule over shuffled mini-batches of ``inputs``' rows; ``step_loss(model, rows)``."""
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.StepLR(optimiser, step_size=step, gamma=gamma)
    model.train()
    for _ in range(epochs):
        for rows in torch.randperm(len(inputs), generator=generator).split(batch_size):
            optimiser.zero_grad()
            step_loss(model, rows).backward()
            optimiser.step()
        schedule.step()
    return model.eval()


def train_tem(features: torch.Tensor, segments: list[np.ndarray], config: LocalizationConfig,
              generator: torch.Generator) -> TemporalModel:
    """TEM (with DFC's reducer) on features [N, T, D] and each video's ground-truth segments (fractions): the sum
    of BSN's weighted logistic losses of actionness, start and end."""
    targets = torch.from_numpy(np.stack([bsn.tem_targets(s, features.shape[1]) for s in segments]))

    def loss(model: nn.Module, rows: torch.Tensor) -> torch.Tensor:
        probabilities = model(features[rows])
        return sum(bsn.weighted_logistic_loss(probabilities[:, k], targets[rows, k]) for k in range(3))

    model = _seeded(lambda: TemporalModel(features.shape[-1], config), generator)
    return _train(model, features, loss, config.tem_epochs, config.tem_lr,
                  config.tem_weight_decay, config.tem_step, config.gamma, config.batch_size, generator)


@torch.no_grad()
def tem_curves(model: TemporalModel, features: torch.Tensor) -> np.ndarray:
    """[N, 3, T] actionness, start and end probabilities."""
    return model(features).numpy().astype(np.float64)


def candidates_of(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PGM for one video's curves [3, T]: (candidate proposals [P, 2], their BSP features [P, 32])."""
    proposals = bsn.candidate_proposals(curves[1], curves[2])
    return proposals, bsn.bsp_features(curves[0], proposals)


def train_pem(curves: np.ndarray, segments: list[np.ndarray], config: LocalizationConfig,
              generator: torch.Generator) -> bsn.PEM:
    """PEM on the training videos' candidates: each epoch draws every video's proposals high : medium : low =
    1 : 1 : 2 and regresses their largest tIoU with the ground truth (L2)."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=generator)))
    videos = []
    for video_curves, truth in zip(curves, segments):
        proposals, bsp = candidates_of(video_curves)
        if len(proposals):
            videos.append((torch.from_numpy(bsp), bsn.max_tiou(proposals, truth)))
    if not videos:
        raise ConfigError("localization: TEM found no candidate proposal in any training video")
    order = torch.arange(len(videos))

    def loss(model: nn.Module, rows: torch.Tensor) -> torch.Tensor:
        chosen = [(bsp[idx], torch.from_numpy(target[idx]).float()) for bsp, target in (videos[int(r)] for r in rows)
                  for idx in [bsn.pem_training_sample(target, rng)]]
        inputs, targets = torch.cat([c[0] for c in chosen]), torch.cat([c[1] for c in chosen])
        return nn.functional.mse_loss(model(inputs), targets)

    return _train(_seeded(bsn.PEM, generator), order, loss, config.pem_epochs, config.pem_lr, config.pem_weight_decay,
                  config.pem_step, config.gamma, config.batch_size, generator)


@torch.no_grad()
def video_proposals(curves: np.ndarray, pem: bsn.PEM, config: LocalizationConfig) -> np.ndarray:
    """One video's final proposals [K, 3] (start, end, score), best first: PGM candidates scored p_start · p_end ·
    p_conf, then Gaussian Soft-NMS keeping ``max_proposals``."""
    proposals, bsp = candidates_of(curves)
    if len(proposals) == 0:
        return np.zeros((0, 3))
    confidence = pem(torch.from_numpy(bsp)).numpy().astype(np.float64)
    scores = bsn.proposal_scores(curves[1], curves[2], proposals, confidence)
    kept, kept_scores = bsn.soft_nms(proposals, scores, config.soft_nms_epsilon, config.max_proposals)
    return np.concatenate([kept, kept_scores[:, None]], axis=1)


def to_seconds(proposals: np.ndarray, duration: float) -> np.ndarray:
    """Proposals [K, 3] with times as fractions → seconds."""
    return np.concatenate([proposals[:, :2] * duration, proposals[:, 2:]], axis=1)


class VideoClassifier(nn.Module):
    """Linear multi-label scores of a video from its mean snippet feature, standardised with the training set's
    statistics: the video-level classes that turn proposals into detections (BSN §4.3 uses UntrimmedNet's)."""

    def __init__(self, pooled: torch.Tensor, num_classes: int):
        super().__init__()
        self.register_buffer("mean", pooled.mean(0))
        self.register_buffer("std", pooled.std(0).clamp(min=1e-6))
        self.linear = nn.Linear(pooled.shape[1], num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Snippet features [N, T, D] → logits [N, classes]."""
        return self.linear((features.mean(dim=1) - self.mean) / self.std)


def train_video_classifier(features: torch.Tensor, labels: list[set[int]], num_classes: int,
                           generator: torch.Generator, epochs: int = 200, lr: float = 0.01) -> VideoClassifier:
    """The video classifier trained full-batch with Adam on sigmoid BCE against each video's set of classes."""
    targets = torch.zeros(len(labels), num_classes)
    for row, classes in enumerate(labels):
        targets[row, list(classes)] = 1.0
    model = _seeded(lambda: VideoClassifier(features.mean(dim=1), num_classes), generator)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        optimiser.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(model(features), targets).backward()
        optimiser.step()
    return model.eval()


@torch.no_grad()
def video_class_scores(model: VideoClassifier, features: torch.Tensor) -> np.ndarray:
    """[N, classes] sigmoid scores of each video."""
    return torch.sigmoid(model(features)).numpy()


def detections(proposals: dict[str, np.ndarray], class_scores: dict[str, np.ndarray], classes: list[str],
               top: int) -> dict[str, list[tuple[str, float, float, float]]]:
    """class → (video, start, end, proposal score × class score) for each video's ``top`` classes."""
    out: dict[str, list] = {name: [] for name in classes}
    for video, found in proposals.items():
        scores = class_scores[video]
        for c in np.argsort(-scores, kind="stable")[:top]:
            out[classes[c]].extend((video, s, e, p * float(scores[c])) for s, e, p in found.tolist())
    return out


def localization_metrics(truth: dict[str, list[tuple[float, float, str]]], proposals: dict[str, np.ndarray],
                         found: dict[str, list[tuple[str, float, float, float]]], config: LocalizationConfig
                         ) -> tuple[dict[str, float], dict[str, float], dict[str, float], np.ndarray]:
    """(AR@AN, per-class recall at tIoU 0.5 with 100 proposals per video, detection mAP per tIoU, recall against
    every tIoU threshold of the set at 100 proposals per video), each in percent, as BSN and Resnick et al. 2019
    report them; ``truth``: video → (start, end, label) in seconds, ``proposals``: video → [K, 3] in seconds."""
    proposal_tiou, detection_tiou = TIOU_SETS[config.tiou]
    segments = {v: np.array([(s, e) for s, e, _ in items]) for v, items in truth.items() if items}
    recall = average_recall_at(segments, proposals, AN_POINTS, proposal_tiou)
    per_class = {}
    for name in sorted({label for items in truth.values() for _, _, label in items}):
        of_class = {v: np.array([(s, e) for s, e, label in items if label == name])
                    for v, items in truth.items() if any(label == name for _, _, label in items)}
        at = recall_at_tiou(of_class, {v: proposals.get(v, np.zeros((0, 3))) for v in of_class}, RECALL_BUDGET,
                            np.array([CLASS_RECALL_TIOU]))
        per_class[name] = float(at[0])
    by_class = {name: {} for name in per_class}
    for video, items in truth.items():
        for s, e, label in items:
            by_class[label].setdefault(video, []).append((s, e))
    detection_truth = {name: {v: np.array(segs) for v, segs in videos.items()} for name, videos in by_class.items()}
    mean_ap = detection_map(detection_truth, found, detection_tiou)
    curve = recall_at_tiou(segments, proposals, RECALL_BUDGET, proposal_tiou)
    return ({f"AR@{n}": 100 * value for n, value in recall.items()}, {k: 100 * v for k, v in per_class.items()},
            {f"mAP@{t:g}": 100 * value for t, value in mean_ap.items()}, 100 * curve)
