"""The training transforms as they ran before whole-clip augmentation, the baseline of benchmarks/transforms.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vssl.data import transforms as T

WHOLE_CLIP_ELEMENTS = 1 << 18  # clips of at most this many values ran at once, larger ones frame by frame


def resize_frames(video: torch.Tensor, height: int, width: int) -> torch.Tensor:
    if (height, width) == tuple(video.shape[-2:]):
        return video
    downscaling = height < video.shape[-2] or width < video.shape[-1]
    frames = video.permute(1, 0, 2, 3)
    resized = F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False, antialias=downscaling)
    return resized.permute(1, 0, 2, 3).contiguous()


def rgb_to_hsv(video: torch.Tensor) -> torch.Tensor:
    red, green, blue = video[0], video[1], video[2]
    value, max_channel = video.max(dim=0)
    chroma = value - video.min(dim=0).values
    saturation = torch.where(value > 0, chroma / value.clamp(min=1e-12), torch.zeros_like(value))
    safe_chroma = chroma.clamp(min=1e-12)
    hue_sixths = torch.where(
        max_channel == 0,
        ((green - blue) / safe_chroma) % 6,
        torch.where(max_channel == 1, (blue - red) / safe_chroma + 2, (red - green) / safe_chroma + 4),
    )
    hue = torch.where(chroma > 0, hue_sixths / 6, torch.zeros_like(value))
    return torch.stack([hue, saturation, value])


def hsv_to_rgb(video: torch.Tensor) -> torch.Tensor:
    hue, saturation, value = video[0], video[1], video[2]
    channels = []
    for n in (5, 3, 1):
        k = (n + 6 * hue) % 6
        channels.append(value - value * saturation * torch.minimum(k, 4 - k).clamp(0, 1))
    return torch.stack(channels)


def adjust_hue(video: torch.Tensor, shift: float) -> torch.Tensor:
    hsv = rgb_to_hsv(video)
    return hsv_to_rgb(torch.stack([(hsv[0] + shift) % 1.0, hsv[1], hsv[2]]))


COLOR_ADJUSTMENTS = {
    "brightness": lambda video, factor: (video * factor).clamp(0, 1),
    "contrast": lambda video, factor: (
        factor * video + (1 - factor) * T.to_grayscale(video).mean(dim=(0, 2, 3), keepdim=True)).clamp(0, 1),
    "saturation": lambda video, factor: (factor * video + (1 - factor) * T.to_grayscale(video)).clamp(0, 1),
    "hue": adjust_hue,
}


def gaussian_blur(video: torch.Tensor, sigma: float, kernel_size: int) -> torch.Tensor:
    channels = video.shape[0]
    kernel = T.gaussian_kernel_1d(sigma, kernel_size).to(video)
    pad = kernel_size // 2
    frames = F.pad(video.permute(1, 0, 2, 3), (pad, pad, pad, pad), mode="replicate")
    frames = F.conv2d(frames, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, kernel_size), groups=channels)
    frames = F.conv2d(frames, kernel.view(1, 1, -1, 1).expand(channels, 1, kernel_size, 1), groups=channels)
    return frames.permute(1, 0, 2, 3).contiguous()


def jitter(video: torch.Tensor, params: list[tuple[str, float]]) -> torch.Tensor:
    for name, factor in params:
        video = COLOR_ADJUSTMENTS[name](video, factor)
    return video


def blur(video: torch.Tensor, sigma: float) -> torch.Tensor:
    return gaussian_blur(video, sigma, T.default_blur_kernel_size(video.shape[-2], video.shape[-1]))


def gray(video: torch.Tensor, params: bool) -> torch.Tensor:
    return T.to_grayscale(video).expand_as(video)


class FrameByFrame(T.VideoTransform):
    """A colour transform's own draws, applied as before: at once up to WHOLE_CLIP_ELEMENTS, else frame by frame."""

    def __init__(self, transform: T.FrameableTransform, apply_params):
        self.transform = transform
        self.apply_params = apply_params

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not self.transform.per_frame and video.numel() <= WHOLE_CLIP_ELEMENTS:
            params = self.transform.sample_params(generator)
            return video if params is None else self.apply_params(video, params)
        frames = video.split(1, dim=1)
        if self.transform.per_frame:
            frame_params = [self.transform.sample_params(generator) for _ in frames]
        else:
            frame_params = [self.transform.sample_params(generator)] * len(frames)
        if all(params is None for params in frame_params):
            return video
        return torch.cat([frame if params is None else self.apply_params(frame, params)
                          for frame, params in zip(frames, frame_params)], dim=1)


class ShortSideResize(T.ShortSideResize):
    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        low, high = self.size_range
        short_side = low if low == high else T._randint(low, high, generator)
        height, width = video.shape[-2:]
        if height <= width:
            return resize_frames(video, short_side, max(1, round(width * short_side / height)))
        return resize_frames(video, max(1, round(height * short_side / width)), short_side)


def reference_train_transform(crop_size: int, short_side: tuple[int, int], **options) -> T.Compose:
    """``build_train_transform(crop_size, short_side, **options)`` with the resize, colour and blur code it ran before
    (the VGG-style crop: no ``inception_crop``)."""
    old = {T.ColorJitter: jitter, T.RandomGrayscale: gray, T.GaussianBlur: blur}
    transforms = []
    for transform in T.build_train_transform(crop_size, short_side, **options).transforms:
        if type(transform) in old:
            transform = FrameByFrame(transform, old[type(transform)])
        elif isinstance(transform, T.ShortSideResize):
            transform = ShortSideResize(transform.size_range)
        transforms.append(transform)
    return T.Compose(transforms)
