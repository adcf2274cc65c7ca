"""Pace prediction (Wang 2020 Ch. 4, Wang et al. 2020): classify a clip's playback pace, optionally with contrast.

The optional contrastive term pulls together clips of the same video (same context) or of the same pace (§4.2.3).

Labels: the sampler (:class:`PaceClipSampler`) draws each clip's pace from the item's seeded generator and returns the
clip's frame indices ``start + ⌊i·p⌋`` (a slow pace p < 1 repeats the preceding frame, §4.2.2); the method reads the
pace back from the batch's ``frames`` with :func:`pace_label`, which is exact (see its docstring), so the labels are
reproducible from the seed and never travel separately through the loader.

Loss (Eq. 4.5): L = λ_cls·L_cls + λ_ctr·L_ctr, with L_cls the cross-entropy over the M paces (Eq. 4.2) and L_ctr one
of the two contrastive strategies of §4.2.3, both on plain dot-product similarities of the clip features (or of the
"+fc" projection, Table 4.6):
  same_context: two clips per video at different paces; positives = the two clips of a video (Eq. 4.3);
  same_pace:    one clip per video; positives = clips with the same pace label (Eq. 4.4).
Fig. 4.4 computes both from the similarity map with masks: the denominator sums exp(sim) over all positive and
negative pairs (self-pairs are neither), the numerator takes the positive pairs:
  L_ctr = log Σ_{(i,j) ∈ pos ∪ neg} exp(z_i·z_j) − mean_{(i,j) ∈ pos} z_i·z_j.
For same context the mean over positive pairs is Eq. 4.3's 1/2N; for same pace it replaces Eq. 4.4's 1/N, which would
scale the loss with the number of same-pace pairs. A batch without any positive pair adds no contrastive loss.

Augmentation (§4.2.2, Table 4.5): random crop, flip and colour jitter drawn independently for every frame (one
jitter for the whole clip "would be equivalent to apply nothing"); ``per_frame_jitter=false`` gives the per-clip
variant. Its strengths replace ``data.color_strength``.

Complexity: Kumar et al. 2023 does not study pace prediction; C1/C2/C3 map to the class-count ablation of Wang 2020 Table 4.1,
paces [1, 3], [1, 4], [1, 5] (3/4/5 classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.methods.pretext_sampling import PaceClipSampler, as_fraction, pace_label
from vssl.data.transforms import ColorJitter, Compose, Normalize, spatial_train_transforms
from vssl.methods.pretext_common import PretextMethod, apply_complexity, reject_fps_jitter

PACE_LEVELS = {"C1": (1.0, 2.0, 3.0), "C2": (1.0, 2.0, 3.0, 4.0), "C3": (1.0, 2.0, 3.0, 4.0, 5.0)}
CONTRAST_STRATEGIES = ("none", "same_context", "same_pace")


@dataclass
class PaceConfig:
    paces: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)  # Wang 2020 §4.4.1: p = [1, 4] by default (Table 4.5)
    complexity: str | None = None  # C1/C2/C3 = paces [1,3]/[1,4]/[1,5] (Wang 2020 Table 4.1); None = use `paces`
    per_frame_jitter: bool = True  # Wang 2020 Table 4.5: jitter every frame independently
    jitter: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 0.2)  # brightness, contrast, saturation, hue [ref]
    jitter_p: float = ranged(0.8, ge=0, le=1)  # probability of jittering a frame [ref: RandomApply p = 0.8]
    contrast: str = "none"  # none | same_context | same_pace (Wang 2020 §4.2.3)
    cls_weight: float = ranged(1.0, ge=0)  # λ_cls (Wang 2020 §4.3)
    ctr_weight: float = ranged(0.1, ge=0)  # λ_ctr (Wang 2020 §4.3)
    projection_dim: int | None = ranged(None, ge=1)  # "+fc" (Table 4.6): Linear + ReLU into this many dims; None = features

    def __post_init__(self):
        apply_complexity(self, "paces", PACE_LEVELS)
        if not self.paces or any(not pace > 0 for pace in self.paces):
            raise ConfigError(f"method.paces: expected at least one pace > 0, got {self.paces!r}")
        if len({as_fraction(pace) for pace in self.paces}) != len(self.paces):
            raise ConfigError(f"method.paces: expected distinct paces, got {self.paces!r}")
        if self.contrast not in CONTRAST_STRATEGIES:
            raise ConfigError(f"method.contrast: expected one of {', '.join(CONTRAST_STRATEGIES)}, "
                              f"got {self.contrast!r}")
        if self.projection_dim is not None and (self.projection_dim < 1 or self.contrast == "none"):
            raise ConfigError(f"method.projection_dim={self.projection_dim!r}: expected null, or an integer >= 1 "
                              f"together with a contrast strategy")

    @property
    def clips_per_video(self) -> int:
        return 2 if self.contrast == "same_context" else 1


def masked_contrastive_loss(similarity: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """log Σ_{pos ∪ neg} exp(sim) − mean_{pos} sim over a similarity map with boolean pair masks (module docstring)."""
    if not positive.any():
        return similarity.new_zeros(())
    return torch.logsumexp(similarity[positive | negative], dim=0) - similarity[positive].mean()


def contrast_masks(strategy: str, labels: torch.Tensor, videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) pair masks for clips with pace ``labels`` and video ids ``videos`` (both [N])."""
    not_self = ~torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    same = videos[:, None] == videos[None, :] if strategy == "same_context" else labels[:, None] == labels[None, :]
    return same & not_self, ~same


def pace_labels(frames: torch.Tensor, paces) -> torch.Tensor:
    """Pace index of every clip from the batch's frame indices [B, K, T] → [B, K]."""
    return torch.tensor([[pace_label(clip.tolist(), paces) for clip in video] for video in frames], dtype=torch.long)


def pace_transform(config: PaceConfig, data) -> Compose:
    """Crop (as data.*), flip, then Wang 2020's colour jitter per frame (or per clip), then normalisation."""
    if data.temporal_difference_p:
        raise ConfigError(f"data.temporal_difference_p={data.temporal_difference_p!r} is not part of the pace "
                          f"recipe; use 0")
    spatial = spatial_train_transforms(data.crop_size, data.short_side, data.flip, data.inception_crop)
    jitter = ColorJitter(*config.jitter, p=config.jitter_p, per_frame=config.per_frame_jitter)
    return Compose(spatial + [jitter, Normalize()])


class PacePrediction(PretextMethod):
    """A linear pace classifier on the pooled features, plus the optional contrastive term."""

    def __init__(self, backbone, config: PaceConfig, optim):
        super().__init__(backbone, config, optim)
        self.pace_head = nn.Linear(backbone.feature_dim, len(config.paces))
        if config.projection_dim is None:
            self.projection = nn.Identity()
        else:
            self.projection = nn.Sequential(nn.Linear(backbone.feature_dim, config.projection_dim),
                                            nn.ReLU(inplace=True))

    @classmethod
    def build_sampler(cls, config, data):
        """data.clip_len frames per clip at a random pace; two clips per video for the same-context contrast."""
        reject_fps_jitter("pace", data)
        return PaceClipSampler(data.clip_len, config.paces, config.clips_per_video)

    @classmethod
    def build_transform(cls, config, data):
        return pace_transform(config, data)

    def train_batch(self, batch: dict) -> torch.Tensor:
        clips = batch["clips"]  # [B, K, C, T, H, W]
        labels = pace_labels(batch["frames"], self.config.paces).flatten().to(clips.device)
        features = self.backbone(clips.flatten(0, 1))
        logits = self.pace_head(features)
        classification = F.cross_entropy(logits, labels)
        loss = self.config.cls_weight * classification
        if self.config.contrast != "none":
            embeddings = self.projection(features)
            videos = torch.arange(clips.shape[0], device=clips.device).repeat_interleave(clips.shape[1])
            positive, negative = contrast_masks(self.config.contrast, labels, videos)
            with torch.autocast(clips.device.type, enabled=False):  # similarities and log-sum-exp in fp32
                embeddings = embeddings.float()
                contrastive = masked_contrastive_loss(embeddings @ embeddings.t(), positive, negative)
            loss = loss + self.config.ctr_weight * contrastive
            self.log("train/contrastive_loss", contrastive.detach(), on_step=True, on_epoch=True,
                     batch_size=clips.shape[0])
        self.manual_backward(loss)
        self.log_pretext(logits, labels, classification)
        return loss.detach()
