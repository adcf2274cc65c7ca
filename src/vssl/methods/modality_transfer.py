"""Feature-supervised modality transfer (Thoker 2023, Ch. 2): a student matches a frozen teacher of another modality."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vssl.core.config import ranged
from vssl.core.errors import ConfigError
from vssl.data.modality import ModalityFiles, ModalityViews, check_modality, modality_step
from vssl.data.sampling import RandomClipSampler, UniformClipSampler
from vssl.data.transforms import Compose, spatial_train_transforms
from vssl.methods.base import Method
from vssl.methods.kd import FEATURE_DISTANCES, FrozenTeachers, feature_distance, load_teacher, renormaliser
from vssl.models.spec import EncoderSpec

# Thoker 2023 §2.3.2: clip-to-clip (Eq. 2.1), video-to-clip (Eq. 2.2-2.3), combined (their sum, Eq. 2.4),
# video-to-video (Eq. 2.5; for a clip-based student its video feature is the mean over the same N clips)
GRANULARITIES = ("clip-to-clip", "video-to-clip", "combined", "video-to-video")


@dataclass
class ModalityTransferConfig:
    teacher: str = ""  # checkpoint: a vssl encoder.pt / last.ckpt, or another tool's weights
    teacher_backbone: str = "r3d_18"  # what another tool's file is loaded into (Thoker 2023 §2.4.3: 3D-ResNets)
    # the teacher's input; a vssl file records its own, which must agree. Thoker 2023 Table 2.1: a flow teacher
    # transfers best to depth
    teacher_modality: str = "rgb"
    granularity: str = "combined"  # Thoker 2023 Table 2.3: combined beats video-to-clip beats clip-to-clip
    distance: str = "cosine"  # Thoker 2023 Table 2.2: cosine distance beats MSE
    # N clips spread over the whole video for its video-level feature (Thoker 2023 Eq. 2.3 tiles each video into
    # frames / clip length clips); [vssl default] one N for every video keeps batches rectangular
    video_clips: int = ranged(4, ge=1)

    def __post_init__(self):
        check_modality(self.teacher_modality, "method.teacher_modality")
        if self.granularity not in GRANULARITIES:
            raise ConfigError(f"method.granularity={self.granularity!r}: expected one of {', '.join(GRANULARITIES)}")
        if self.distance not in FEATURE_DISTANCES:
            raise ConfigError(f"method.distance={self.distance!r}: expected one of {', '.join(FEATURE_DISTANCES)}")

    @property
    def random_clip(self) -> bool:
        """Whether the student sees one random clip (all granularities but video-to-video)."""
        return self.granularity != "video-to-video"

    @property
    def whole_video(self) -> bool:
        """Whether the teacher (and for video-to-video the student) sees the video's N uniform clips."""
        return self.granularity != "clip-to-clip"


class TransferClipSampler:
    """A video's clips for a granularity: one random clip (the student's, and the teacher's clip-level view of it),
    then ``video_clips`` uniformly spaced clips over the whole video (the video-level features)."""

    def __init__(self, clip_len: int, stride: int, random_clip: bool, video_clips: int):
        self.random = RandomClipSampler(clip_len, stride) if random_clip else None
        self.uniform = UniformClipSampler(clip_len, stride, video_clips) if video_clips else None
        self.num_clips = int(random_clip) + video_clips

    def __call__(self, num_frames: int, fps: float, rng) -> list[list[int]]:
        random = self.random(num_frames, fps, rng) if self.random else []
        return random + (self.uniform(num_frames, fps, rng) if self.uniform else [])


def video_features(encoder: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Video-level features [B, D] of clips [B, N, C, T, H, W]: the mean of its N clips' (Thoker 2023 Eq. 2.3)."""
    batch, count = clips.shape[:2]
    return encoder(clips.flatten(0, 1)).view(batch, count, -1).mean(dim=1)


class ModalityTransfer(FrozenTeachers, Method):
    """The student (of ``data.modality``) is the backbone; the frozen teacher sits beside it, with a linear map from
    the student's features to the teacher's where their sizes differ (as Kumar et al. 2023 §4.5 for KD)."""

    def __init__(self, backbone, config: ModalityTransferConfig, optim):
        if not config.teacher:
            raise ConfigError("method.teacher: give the frozen teacher's checkpoint, e.g. "
                              "method.teacher=runs/supervised_world32/encoder.pt")
        super().__init__(backbone, config, optim)
        teacher, spec = load_teacher(config.teacher, EncoderSpec(config.teacher_backbone, {},
                                                                 modality=config.teacher_modality))
        if spec.modality != config.teacher_modality:
            raise ConfigError(f"method.teacher_modality={config.teacher_modality}, but {config.teacher} was trained on "
                              f"{spec.modality} clips: set method.teacher_modality={spec.modality}")
        self.teachers = nn.ModuleList([teacher])
        # clips come normalised by the Kinetics statistics; a teacher of other statistics gets them in its own (KD's)
        self.renormalise = None if config.teacher_modality == "flow" else renormaliser(spec)
        same = backbone.feature_dim == teacher.feature_dim
        self.project = nn.Identity() if same else nn.Linear(backbone.feature_dim, teacher.feature_dim)

    # --- what the loader feeds the method: per clip, the student's view and the teacher's view ----------------------

    @classmethod
    def input_files(cls, config: ModalityTransferConfig, data) -> ModalityFiles:
        return ModalityFiles(data.manifest, (data.modality, config.teacher_modality))

    @classmethod
    def build_sampler(cls, config: ModalityTransferConfig, data) -> TransferClipSampler:
        return TransferClipSampler(data.clip_len, data.stride, config.random_clip,
                                   config.video_clips if config.whole_video else 0)

    @classmethod
    def build_transform(cls, config: ModalityTransferConfig, data) -> Compose:
        """One crop and flip for both views of a clip (Thoker 2023 §2.4.3: multi-scale crop and flip, no colour),
        then each view in its modality: [2, 3, T, H, W] (student, teacher)."""
        files = cls.input_files(config, data)
        views = ModalityViews([files.group(data.modality), files.group(config.teacher_modality)],
                              [modality_step(data.modality), modality_step(config.teacher_modality)])
        return Compose(spatial_train_transforms(data.crop_size, data.short_side, data.flip, data.inception_crop)
                       + [views])

    @classmethod
    def views_per_clip(cls, config) -> int:
        return 1

    # --- training ---------------------------------------------------------------------------------------------------

    @property
    def teacher(self) -> nn.Module:
        return self.teachers[0]

    @torch.no_grad()
    def teacher_features(self, clips: torch.Tensor) -> torch.Tensor:
        """The teacher's pooled features [B, D] of its views [B, C, T, H, W], or [B, D] of videos [B, N, C, T, H, W]."""
        if self.renormalise is not None:
            scale, shift = (value.to(clips).view(3, 1, 1, 1) for value in self.renormalise)
            clips = clips * scale + shift
        if clips.dim() == 6:
            return video_features(self.teacher, clips).float()
        return self.teacher(clips).float()

    def train_views(self, views: torch.Tensor) -> torch.Tensor:
        """``views`` [B, 2K, C, T, H, W]: the student's and the teacher's view of each of the K clips (the random
        clip first, unless video-to-video)."""
        student_views, teacher_views = views[:, 0::2], views[:, 1::2]
        granularity, targets = self.config.granularity, []
        if granularity == "video-to-video":
            student = video_features(self.backbone, student_views)
            targets.append(self.teacher_features(teacher_views))
        else:
            student = self.backbone(student_views[:, 0])
            if granularity in ("clip-to-clip", "combined"):
                targets.append(self.teacher_features(teacher_views[:, 0]))
            if granularity in ("video-to-clip", "combined"):
                targets.append(self.teacher_features(teacher_views[:, 1:]))
        student = self.project(student).float()
        loss = sum(feature_distance(student, target, self.config.distance) for target in targets)
        self.manual_backward(loss)
        return loss.detach()
