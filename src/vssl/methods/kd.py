"""Multi-teacher knowledge distillation (Kumar et al. 2023 §4.5): a student backbone learns the pooled features of
several frozen teachers (any vssl encoder.pt or another tool's checkpoint), each through its own linear map, with a
cosine loss per teacher. The teachers' losses are combined either with equal weights (``average``: plain feature KD)
or with AE-KD's adaptive weights (Du et al. 2020): per step, the weights α on the simplex, each at most
``weight_cap``, that minimise ‖Σ_m α_m ∇_z L_m‖², the gradients of the teachers' losses with respect to the
student's features z: the direction the teachers agree on most, so that one teacher cannot pull the student away from
the others. ``weight_cap`` = 1/M gives equal weights; 1 lets one teacher take all.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.data.transforms import KINETICS_MEAN, KINETICS_STD
from vssl.methods.base import Method, OneClipPerVideo
from vssl.models.checkpoints import load_any_encoder
from vssl.models.spec import EncoderSpec

WEIGHTINGS = ("ae-kd", "average")
FEATURE_DISTANCES = ("cosine", "mse")
SOLVER_STEPS = 100  # projected-gradient steps of the min-norm problem (M × M, M = a few teachers)


@dataclass
class KDConfig:
    teachers: tuple[str, ...] = ()  # checkpoint paths: vssl encoder.pt / last.ckpt, or other tools' weights
    teacher_backbone: str = "r3d_18"  # what another tool's file is loaded into (vssl files carry their own spec)
    weighting: str = "ae-kd"  # ae-kd (Du et al. 2020) | average (equal weights: the plain baseline)
    weight_cap: float = ranged(1.0, gt=0, le=1)  # [vssl default] upper bound of each α (AE-KD's tolerance)

    def __post_init__(self):
        self.teachers = tuple(self.teachers)
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"method.weighting={self.weighting!r}: expected one of {', '.join(WEIGHTINGS)}")

    def check_teachers(self) -> None:
        """At least one teacher, and a cap that leaves weights summing to 1."""
        if not self.teachers:
            raise ConfigError("method.teachers: give one or more teacher checkpoints, e.g. "
                              "method.teachers=[runs/a/encoder.pt,runs/b/encoder.pt]")
        if self.weight_cap * len(self.teachers) < 1 - 1e-9:
            raise ConfigError(f"method.weight_cap={self.weight_cap} × {len(self.teachers)} teachers < 1: "
                              "no weights on the simplex")


def project_to_capped_simplex(values: torch.Tensor, cap: float) -> torch.Tensor:
    """The closest point to ``values`` [M] with 0 ≤ α_m ≤ cap and Σ α = 1: clip(values − τ, 0, cap) with τ found by
    bisection."""
    low, high = float(values.min()) - cap - 1.0, float(values.max()) + 1.0
    for _ in range(60):
        tau = (low + high) / 2
        if float((values - tau).clamp(0, cap).sum()) > 1:
            low = tau
        else:
            high = tau
    return (values - (low + high) / 2).clamp(0, cap)


def min_norm_weights(gradients: torch.Tensor, cap: float = 1.0) -> torch.Tensor:
    """α [M] minimising ‖Σ_m α_m g_m‖² over the capped simplex, for gradients [M, P] (projected gradient descent on
    the M × M Gram matrix, from equal weights)."""
    gram = gradients.double() @ gradients.double().T
    count = gram.shape[0]
    alpha = torch.full((count,), 1.0 / count, dtype=torch.float64)
    step = 1.0 / (2 * float(torch.linalg.eigvalsh(gram).max()) + 1e-12)
    for _ in range(SOLVER_STEPS):
        alpha = project_to_capped_simplex(alpha - step * 2 * gram @ alpha, cap)
    return alpha.float()


def feature_distance(student: torch.Tensor, teacher: torch.Tensor, kind: str = "cosine") -> torch.Tensor:
    """Distance of student features [B, D] from the teacher's [B, D], averaged over the batch: ``cosine``,
    1 − cos(s, t) (Kumar et al. 2023 §4.5; Thoker 2023 Eq. 2.1), or ``mse``, the mean of (s − t)² over the features
    (Thoker 2023 Table 2.2, where it transfers worse)."""
    if kind == "cosine":
        return (1 - F.cosine_similarity(student, teacher, dim=1)).mean()
    if kind == "mse":
        return F.mse_loss(student, teacher)
    raise ConfigError(f"feature distance {kind!r}: expected one of {', '.join(FEATURE_DISTANCES)}")


def load_teacher(path: str, into: EncoderSpec) -> tuple[nn.Module, EncoderSpec]:
    """A frozen teacher (no gradients, eval mode) from any checkpoint (another tool's loaded into ``into``) and the
    spec of its input."""
    teacher, _, _, spec = load_any_encoder(path, into)
    teacher.requires_grad_(False)
    # frozen teachers are in eval mode on purpose; Lightning would warn about it at the start of every run
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    return teacher.eval(), spec


class FrozenTeachers:
    """Mixin (before the method's base class): the ``teachers`` ModuleList stays in eval mode (frozen BatchNorm
    statistics, no dropout) whatever mode the method is put in."""

    def train(self, mode: bool = True):
        super().train(mode)
        self.teachers.eval()
        return self


def renormaliser(spec: EncoderSpec) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(scale, shift) [3] taking Kinetics-normalised clips to a teacher's own input statistics; None when they agree."""
    if spec.normalisation_is_default():
        return None
    mean, std = torch.tensor(spec.mean), torch.tensor(spec.std)
    return torch.tensor(KINETICS_STD) / std, (torch.tensor(KINETICS_MEAN) - mean) / std


class KnowledgeDistillation(FrozenTeachers, OneClipPerVideo, Method):
    """The student is the backbone; the frozen teachers and the student's per-teacher linear maps sit beside it."""

    def __init__(self, backbone, config: KDConfig, optim):
        config.check_teachers()
        super().__init__(backbone, config, optim)
        into = EncoderSpec(config.teacher_backbone, {})
        teachers, self.renormalise = [], []
        for path in config.teachers:
            teacher, spec = load_teacher(path, into)
            teachers.append(teacher)
            self.renormalise.append(renormaliser(spec))
        self.teachers = nn.ModuleList(teachers)
        self.maps = nn.ModuleList(nn.Linear(backbone.feature_dim, t.feature_dim) for t in teachers)
        self.last_weights = torch.full((len(teachers),), 1.0 / len(teachers))

    @torch.no_grad()
    def teacher_features(self, clips: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for teacher, change in zip(self.teachers, self.renormalise):
            if change is not None:
                scale, shift = (value.to(clips).view(1, 3, 1, 1, 1) for value in change)
                clips_t = clips * scale + shift
            else:
                clips_t = clips
            features.append(teacher(clips_t).float())
        return features

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        clips = views.flatten(0, 1)
        targets = self.teacher_features(clips)
        student = self.backbone(clips)
        losses = torch.stack([feature_distance(m(student).float(), t) for m, t in zip(self.maps, targets)])
        if self.config.weighting == "ae-kd" and len(targets) > 1:
            gradients = torch.stack([torch.autograd.grad(loss, student, retain_graph=True)[0].flatten()
                                     for loss in losses])
            weights = min_norm_weights(gradients, self.config.weight_cap).to(losses)
        else:
            weights = torch.full_like(losses, 1.0 / len(targets))
        self.last_weights = weights.detach().cpu()
        loss = (weights.detach() * losses).sum()
        self.manual_backward(loss)
        for index, weight in enumerate(self.last_weights.tolist()):
            self.log(f"train/teacher{index}_weight", weight, on_step=True, on_epoch=False, batch_size=views.shape[0])
        return loss.detach()
