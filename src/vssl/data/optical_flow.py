"""Dense optical flow (OpenCV's Farnebäck) and the flow modality's clips: (u, v, magnitude) scaled by a bound."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vssl.core.errors import VsslError

# OpenCV's documented Farnebäck example values (samples/python/opt_flow.py, the optical flow tutorial).
FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
             "flags": 0}

# Flow fed to a network is clipped to ±20 px and rescaled to ±1 on 224² frames (Carreira & Zisserman 2017, the
# kinetics-i3d release). [vssl] Here the bound is that fraction of the clip's short side, so that a clip encodes
# alike at every resolution (±2.9 px at 32²).
FLOW_BOUND = 20 / 224


def dense_flow(frames: np.ndarray) -> np.ndarray:
    """Farnebäck flow between consecutive frames: [T−1, H, W, 2] float32, (u, v) in pixels per frame step."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        raise VsslError(f"optical flow needs uint8 RGB frames [T, H, W, 3], got {type(frames).__name__} {shape}")
    if frames.shape[0] < 2:
        raise VsslError(f"optical flow needs at least 2 frames, got {frames.shape[0]}")
    gray = [cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) for frame in frames]
    return np.stack([cv2.calcOpticalFlowFarneback(previous, following, None, **FARNEBACK)
                     for previous, following in zip(gray[:-1], gray[1:])])


def flow_clip(video: torch.Tensor) -> torch.Tensor:
    """RGB clip [3, T, H, W] in [0, 1] → flow clip [3, T, H, W]: channels u, v (in [−1, 1]) and the magnitude (in
    [0, 1]), each in units of FLOW_BOUND × the short side and clipped. Frame t holds the flow from frame t to t + 1;
    the last frame repeats the last flow, so a clip keeps its T frames (as ``transforms.temporal_difference``)."""
    channels, frames, height, width = video.shape
    if channels != 3:
        raise VsslError(f"optical flow is computed from RGB clips [3, T, H, W], got {tuple(video.shape)}")
    if frames < 2:
        return torch.zeros_like(video)
    pixels = (video.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()
    flow = dense_flow(pixels) / np.float32(FLOW_BOUND * min(height, width))
    magnitude = np.hypot(flow[..., 0], flow[..., 1])[..., None]
    fields = np.concatenate([np.clip(flow, -1, 1), np.clip(magnitude, 0, 1)], axis=-1)
    fields = np.concatenate([fields, fields[-1:]])
    return torch.from_numpy(np.ascontiguousarray(fields.transpose(3, 0, 1, 2))).to(video.dtype)


class OpticalFlow:
    """A transform step: RGB clip [3, T, H, W] or views [S, 3, T, H, W] → their flow clips (:func:`flow_clip`).
    Put it after the spatial steps, in place of normalisation: the flow is that of the crop the network sees."""

    def __call__(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if video.dim() == 5:
            return torch.stack([flow_clip(view) for view in video])
        return flow_clip(video)
