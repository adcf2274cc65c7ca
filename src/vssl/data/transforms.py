"""Video transforms on float tensors [C, T, H, W] in [0, 1]: resize, crops, flip, colour, blur, normalize.

Each transform is a small callable ``transform(video, generator=None) -> video``. Its random
parameters are drawn once per call from ``generator`` (a ``torch.Generator``; ``None`` uses torch's
global generator), so every frame of a clip gets the same crop, flip and colour change. The colour
transforms (ColorJitter, RandomGrayscale, GaussianBlur) accept ``per_frame=True`` to draw independent
parameters, including the apply-or-not coin, for every frame instead. Either way every transform works on
the whole clip at once (per-frame parameters broadcast over T), with no loop over frames.

``build_train_transform`` / ``build_eval_transform`` assemble the recipe of Feichtenhofer et al. 2021 (Feichtenhofer et
al. 2021, "A Large-Scale Study on Unsupervised Spatiotemporal Representation Learning", §A.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vssl.core.errors import VsslError

# Kinetics mean/std of PySlowFast (slowfast/config/defaults.py, _C.DATA.MEAN / _C.DATA.STD).
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)

# ITU-R BT.601 luma weights for R, G, B (as PIL and torchvision grayscale).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

# Inception-style crop: Feichtenhofer et al. 2021 Table 8, best setting (66.8% K400 linear): area [0.20, 0.76],
# aspect [3/4, 4/3].
INCEPTION_CROP_AREA = (0.2, 0.76)
INCEPTION_CROP_ASPECT = (3 / 4, 4 / 3)
CROP_TRIES = 10


def to_float_video(frames: np.ndarray) -> torch.Tensor:
    """uint8 frames [T, H, W, 3] (as decoded) -> float32 video [3, T, H, W] in [0, 1]."""
    if not isinstance(frames, np.ndarray):
        raise VsslError(f"to_float_video expects a numpy array of uint8 frames [T, H, W, 3], got {type(frames)!r}")
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise VsslError(f"to_float_video expects uint8 frames [T, H, W, 3], got {frames.dtype} of shape {frames.shape}")
    return torch.from_numpy(frames.transpose(3, 0, 1, 2).astype(np.float32, order="C")).div_(255.0)


# --- random draws (all from the caller's torch.Generator) ---


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in [low, high], both inclusive."""
    return int(torch.randint(low, high + 1, (), generator=generator).item())


def _coin(p: float, generator: torch.Generator | None) -> bool:
    return torch.rand((), generator=generator).item() < p


# --- argument checks ---


def _pair(size, name: str) -> tuple[int, int]:
    """An int or (height, width) pair of ints >= 1, as (height, width)."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise VsslError(f"{name} must be an int >= 1 or a pair of them, got {size!r}")
    return pair


def _range(values, name: str, low_bound: float, high_bound: float) -> tuple[float, float]:
    """A (low, high) pair with low_bound <= low <= high <= high_bound."""
    try:
        low, high = (float(v) for v in values)
    except (TypeError, ValueError):
        raise VsslError(f"{name} must be a (low, high) pair of numbers, got {values!r}") from None
    if not low_bound <= low <= high <= high_bound:
        raise VsslError(f"{name} must satisfy {low_bound} <= low <= high <= {high_bound}, got {values!r}")
    return low, high


def _probability(p: float, name: str = "p") -> float:
    if not 0.0 <= p <= 1.0:
        raise VsslError(f"{name} must be in [0, 1], got {p!r}")
    return float(p)


def _check_video(video) -> None:
    if not isinstance(video, torch.Tensor):
        raise VsslError(f"video transforms expect a float tensor [C, T, H, W], got {type(video)!r}")
    if video.ndim != 4 or not video.is_floating_point():
        raise VsslError(f"video transforms expect a float tensor [C, T, H, W], got {video.dtype} {tuple(video.shape)}")


# --- base classes ---


class VideoTransform:
    """Checks that the input is a float [C, T, H, W] tensor, then applies ``apply``."""

    def __call__(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_video(video)
        return self.apply(video, generator)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError


class FrameableTransform(VideoTransform):
    """A transform whose parameters are drawn once per clip, or once per frame with ``per_frame=True``.

    ``sample_params`` returns None when the transform is skipped (its probability coin says no). Per-frame
    parameters are drawn frame after frame, then the frames that drew some go through ``apply_frame_params``
    together, one parameter set per frame.
    """

    per_frame: bool

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not self.per_frame:
            params = self.sample_params(generator)
            return video if params is None else self.apply_params(video, params)
        frame_params = [self.sample_params(generator) for _ in range(video.shape[1])]
        chosen = [t for t, params in enumerate(frame_params) if params is not None]
        if len(chosen) == video.shape[1]:
            return self.apply_frame_params(video, frame_params)
        if not chosen:
            return video
        index = torch.tensor(chosen)
        changed = self.apply_frame_params(video.index_select(1, index), [frame_params[t] for t in chosen])
        return video.clone().index_copy_(1, index, changed)

    def sample_params(self, generator: torch.Generator | None = None):
        raise NotImplementedError

    def apply_params(self, video: torch.Tensor, params) -> torch.Tensor:
        raise NotImplementedError

    def apply_frame_params(self, video: torch.Tensor, frame_params: list) -> torch.Tensor:
        """``video`` with frame t changed by ``frame_params[t]``."""
        raise NotImplementedError


def per_frame_factors(values: Sequence[float], video: torch.Tensor) -> torch.Tensor:
    """One value per frame as a [T, 1, 1] tensor, which broadcasts over [C, T, H, W] and over [T, H, W]."""
    return torch.tensor(values, dtype=video.dtype).view(-1, 1, 1)


class Compose(VideoTransform):
    """Applies transforms in order, passing the same generator to each."""

    def __init__(self, transforms: Sequence[VideoTransform]):
        self.transforms = list(transforms)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        for transform in self.transforms:
            video = transform(video, generator)
        return video

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(type(t).__name__ for t in self.transforms) + ")"


# --- spatial transforms ---


def resize_frames(video: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of every frame to (height, width), antialiased when downscaling."""
    if (height, width) == tuple(video.shape[-2:]):
        return video
    downscaling = height < video.shape[-2] or width < video.shape[-1]
    frames = video.permute(1, 0, 2, 3)  # frames as the batch: [T, C, H, W]
    resized = F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False, antialias=downscaling)
    return resized.permute(1, 0, 2, 3).contiguous()


class ShortSideResize(VideoTransform):
    """Resize so the shorter side is ``size`` (int) or uniform in ``[low, high]`` (pair), keeping aspect.

    Feichtenhofer et al. 2021 §A.2 draws the short side in [256, 320] (VGG-style scale jitter).
    """

    def __init__(self, size: int | tuple[int, int]):
        if isinstance(size, int):
            self.size_range = _pair((size, size), "short side size")
        else:
            low, high = _pair(size, "short side size")
            if low > high:
                raise VsslError(f"short side size range must have low <= high, got {size!r}")
            self.size_range = (low, high)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        low, high = self.size_range
        short_side = low if low == high else _randint(low, high, generator)
        height, width = video.shape[-2:]
        if height <= width:
            return resize_frames(video, short_side, max(1, round(width * short_side / height)))
        return resize_frames(video, max(1, round(height * short_side / width)), short_side)


def _crop(video: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    return video[..., top : top + height, left : left + width]


def _check_crop_fits(video: torch.Tensor, height: int, width: int) -> None:
    if height > video.shape[-2] or width > video.shape[-1]:
        raise VsslError(f"crop size {(height, width)} is larger than the frames {tuple(video.shape[-2:])}")


class RandomCrop(VideoTransform):
    """A ``size`` crop at a uniform random position, the same for all frames."""

    def __init__(self, size: int | tuple[int, int]):
        self.size = _pair(size, "crop size")

    def sample_params(self, height: int, width: int, generator: torch.Generator | None = None) -> tuple[int, int]:
        """(top, left) of the crop in a frame of (height, width)."""
        return _randint(0, height - self.size[0], generator), _randint(0, width - self.size[1], generator)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        _check_crop_fits(video, *self.size)
        top, left = self.sample_params(video.shape[-2], video.shape[-1], generator)
        return _crop(video, top, left, *self.size)


class CenterCrop(VideoTransform):
    """The central ``size`` crop; when the margin is odd the extra pixel is left at the bottom/right."""

    def __init__(self, size: int | tuple[int, int]):
        self.size = _pair(size, "crop size")

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        _check_crop_fits(video, *self.size)
        top = (video.shape[-2] - self.size[0]) // 2
        left = (video.shape[-1] - self.size[1]) // 2
        return _crop(video, top, left, *self.size)


class RandomResizedCrop(VideoTransform):
    """Inception-style crop: a box of random area fraction and aspect ratio, resized to ``size``.

    Defaults are Feichtenhofer et al. 2021 Table 8's best setting. As in torchvision / PySlowFast, up to 10 boxes are
    drawn (log-uniform aspect ratio) until one fits in the frame; otherwise the largest centred box
    with the aspect ratio clamped to ``aspect`` is used.
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        area: tuple[float, float] = INCEPTION_CROP_AREA,
        aspect: tuple[float, float] = INCEPTION_CROP_ASPECT,
    ):
        self.size = _pair(size, "crop size")
        self.area = _range(area, "area", 1e-6, 1.0)
        self.aspect = _range(aspect, "aspect", 1e-6, math.inf)

    def sample_params(
        self, height: int, width: int, generator: torch.Generator | None = None
    ) -> tuple[int, int, int, int]:
        """(top, left, box_height, box_width) of the box in a frame of (height, width)."""
        log_aspect = (math.log(self.aspect[0]), math.log(self.aspect[1]))
        for _ in range(CROP_TRIES):
            box_area = height * width * _uniform(*self.area, generator)
            aspect = math.exp(_uniform(*log_aspect, generator))
            box_width = round(math.sqrt(box_area * aspect))
            box_height = round(math.sqrt(box_area / aspect))
            if 0 < box_width <= width and 0 < box_height <= height:
                top = _randint(0, height - box_height, generator)
                left = _randint(0, width - box_width, generator)
                return top, left, box_height, box_width
        return self._centre_fallback(height, width)

    def _centre_fallback(self, height: int, width: int) -> tuple[int, int, int, int]:
        frame_aspect = width / height
        if frame_aspect < self.aspect[0]:
            box_width, box_height = width, round(width / self.aspect[0])
        elif frame_aspect > self.aspect[1]:
            box_width, box_height = round(height * self.aspect[1]), height
        else:
            box_width, box_height = width, height
        return (height - box_height) // 2, (width - box_width) // 2, box_height, box_width

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        top, left, box_height, box_width = self.sample_params(video.shape[-2], video.shape[-1], generator)
        return resize_frames(_crop(video, top, left, box_height, box_width), *self.size)


class RandomHorizontalFlip(VideoTransform):
    """Mirrors every frame left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = _probability(p)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return video.flip(-1) if _coin(self.p, generator) else video


# --- colour ---


def to_grayscale(video: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of an RGB video [3, ...] as one channel [1, ...]."""
    red, green, blue = video[0], video[1], video[2]
    return (LUMA_WEIGHTS[0] * red + LUMA_WEIGHTS[1] * green + LUMA_WEIGHTS[2] * blue).unsqueeze(0)


# Comparisons, torch.where and torch.remainder are several times slower on CPU than plain arithmetic, so the HSV
# maths below selects with 0/1 float masks (1 - sign(max - channel)) and takes remainders with floor. For inputs in
# [0, 1] each step gives exactly the value of the textbook formula in the comment above it.


def rgb_to_hsv(video: torch.Tensor) -> torch.Tensor:
    """RGB [3, ...] in [0, 1] -> HSV [3, ...], all channels in [0, 1] (hue as a fraction of a turn)."""
    red, green, blue = video[0], video[1], video[2]
    hsv = video.new_empty(video.shape)
    hue, saturation, value = hsv[0], hsv[1], hsv[2]
    torch.amax(video, dim=0, out=value)
    chroma = value - video.amin(dim=0)
    # saturation = chroma / value where value > 0, else 0 (then chroma = 0 too)
    torch.div(chroma, value.clamp(min=1e-12), out=saturation)
    # hue in sixths from the first maximal channel: (g - b) / chroma mod 6, (b - r) / chroma + 2, (r - g) / chroma + 4
    # (tied maxima give the same value; a gray pixel, chroma 0, gets hue 0)
    is_max = torch.sign(value - video).neg_().add_(1)
    is_red = is_max[0]
    not_red = 1 - is_red
    is_green = is_max[1].mul_(not_red)
    is_blue = not_red.sub_(is_green)
    torch.mul(green - blue, is_red, out=hue).addcmul_(blue - red, is_green).addcmul_(red - green, is_blue)
    hue.div_(chroma.clamp_(min=1e-12)).add_(torch.add(is_green, is_blue, alpha=2).mul_(2))
    hue.sub_(torch.floor(hue / 6), alpha=6)
    hue.div_(6)
    return hsv


HSV_SECTORS = torch.tensor([5.0, 3.0, 1.0])  # n for R, G, B in hsv_to_rgb


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """HSV [3, ...] (hue in [0, 1], as from ``rgb_to_hsv``) -> RGB [3, ...]: channel = v - v·s·clamp(min(k, 4 - k), 0, 1)
    with k = (n + 6h) mod 6 and n = 5, 3, 1 for R, G, B (all three channels at once)."""
    hue, saturation, value = hsv[0], hsv[1], hsv[2]
    k = (6 * hue).add(HSV_SECTORS.to(hsv.dtype).view(3, *[1] * hue.dim()))
    k.sub_(torch.floor(k / 6), alpha=6)
    curve = torch.rsub(k, 4)
    return torch.minimum(k, curve, out=curve).clamp_(0, 1).mul_(value * saturation).neg_().add_(value)


def adjust_brightness(video: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    return (video * factor).clamp_(0, 1)


def adjust_contrast(video: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    """Blend with each frame's mean luma (torchvision semantics, frame by frame)."""
    mean_luma = to_grayscale(video).mean(dim=(0, 2, 3), keepdim=True)
    return (factor * video + (1 - factor) * mean_luma).clamp_(0, 1)


def adjust_saturation(video: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    """Blend with the grayscale image (factor 0 = gray, 1 = unchanged)."""
    return (factor * video + (1 - factor) * to_grayscale(video)).clamp_(0, 1)


def adjust_hue(video: torch.Tensor, shift: float | torch.Tensor) -> torch.Tensor:
    """Rotate hue by ``shift`` turns (in [-0.5, 0.5]) in HSV space."""
    hsv = rgb_to_hsv(video)
    hue = hsv[0].add_(shift)
    hue.sub_(torch.floor(hue))  # (hue + shift) mod 1
    return hsv_to_rgb(hsv)


COLOR_ADJUSTMENTS = {
    "brightness": adjust_brightness,
    "contrast": adjust_contrast,
    "saturation": adjust_saturation,
    "hue": adjust_hue,
}


def color_jitter_for_strength(strength: float) -> tuple[float, float, float, float]:
    """(brightness, contrast, saturation, hue) for Feichtenhofer et al. 2021's colour strength s (Table 7).

    Feichtenhofer et al. 2021 says s = 0.5 is "the default one for MoCo [v2]", i.e. (0.4, 0.4, 0.4, 0.1), and its
    PySlowFast release uses (0.6, 0.6, 0.6, 0.15) for the best s = 0.75 ("aug+", Table 9). Its appendix
    formula {0.4s, 0.4s, 0.4s, 0.1s} contradicts both (it gives half the MoCo default at s = 0.5), so this
    follows the text and the code: (0.8s, 0.8s, 0.8s, 0.2s).
    """
    if strength < 0:
        raise VsslError(f"colour strength must be >= 0, got {strength!r}")
    return 0.8 * strength, 0.8 * strength, 0.8 * strength, 0.2 * strength


class ColorJitter(FrameableTransform):
    """SimCLR / MoCo v2 colour jitter: with probability ``p``, brightness, contrast, saturation and hue
    changes in a random order, factors uniform in [max(0, 1 - x), 1 + x] and hue shift in [-hue, hue]."""

    def __init__(
        self, brightness: float, contrast: float, saturation: float, hue: float, p: float = 0.8, per_frame: bool = False
    ):
        for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if value < 0:
                raise VsslError(f"ColorJitter {name} must be >= 0, got {value!r}")
        if not 0 <= hue <= 0.5:
            raise VsslError(f"ColorJitter hue must be in [0, 0.5], got {hue!r}")
        self.strengths = {"brightness": brightness, "contrast": contrast, "saturation": saturation, "hue": hue}
        self.p = _probability(p)
        self.per_frame = per_frame

    def sample_params(self, generator: torch.Generator | None = None) -> list[tuple[str, float]] | None:
        """The (operation, factor or hue shift) list to apply, in order; None when the p-coin says no."""
        if not _coin(self.p, generator):
            return None
        active = [name for name, strength in self.strengths.items() if strength > 0]
        order = torch.randperm(len(active), generator=generator).tolist()
        ops = []
        for index in order:
            name = active[index]
            strength = self.strengths[name]
            if name == "hue":
                ops.append((name, _uniform(-strength, strength, generator)))
            else:
                ops.append((name, _uniform(max(0.0, 1 - strength), 1 + strength, generator)))
        return ops

    def apply_params(self, video: torch.Tensor, params: list[tuple[str, float]]) -> torch.Tensor:
        for name, factor in params:
            video = COLOR_ADJUSTMENTS[name](video, factor)
        return video

    def apply_frame_params(self, video: torch.Tensor, frame_params: list[list[tuple[str, float]]]) -> torch.Tensor:
        """Step by step through the frames' own orders: at each step, the frames due for the same operation go
        through it together, each with its own factor."""
        for step in zip(*frame_params):
            frames_by_name: dict[str, list[int]] = {}
            for t, (name, _) in enumerate(step):
                frames_by_name.setdefault(name, []).append(t)
            if len(frames_by_name) == 1:
                video = COLOR_ADJUSTMENTS[step[0][0]](video, per_frame_factors([f for _, f in step], video))
                continue
            output = video.new_empty(video.shape)
            for name, frames in frames_by_name.items():
                index = torch.tensor(frames)
                factors = per_frame_factors([step[t][1] for t in frames], video)
                output.index_copy_(1, index, COLOR_ADJUSTMENTS[name](video.index_select(1, index), factors))
            video = output
        return video


class RandomGrayscale(FrameableTransform):
    """With probability ``p`` replaces RGB by its ITU-R 601 luma repeated on all three channels.

    p = 0.2 is the SimCLR / MoCo v2 value that Feichtenhofer et al. 2021 keeps (§A.2, Table 7)."""

    def __init__(self, p: float = 0.2, per_frame: bool = False):
        self.p = _probability(p)
        self.per_frame = per_frame

    def sample_params(self, generator: torch.Generator | None = None) -> bool | None:
        """True when the frames turn gray, None when the p-coin says no."""
        return True if _coin(self.p, generator) else None

    def apply_params(self, video: torch.Tensor, params: bool) -> torch.Tensor:
        return to_grayscale(video).expand_as(video)

    def apply_frame_params(self, video: torch.Tensor, frame_params: list[bool]) -> torch.Tensor:
        return self.apply_params(video, True)


def gaussian_kernel_1d(sigma: float, kernel_size: int) -> torch.Tensor:
    offsets = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    return weights / weights.sum()


def default_blur_kernel_size(height: int, width: int) -> int:
    """About 10% of the shorter image side, odd, at least 3 (SimCLR, Chen et al. 2020, App. A)."""
    size = max(3, int(0.1 * min(height, width)))
    return size if size % 2 == 1 else size + 1


def gaussian_blur(video: torch.Tensor, sigma: float | Sequence[float], kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur of every frame, with one ``sigma`` or one per frame; borders repeat the edge pixel.

    Each 1-D pass is a weighted sum of ``kernel_size`` shifted views of the whole padded clip: on CPU about 10× faster
    than a depthwise convolution at 8×56² and as fast at 224².
    """
    if isinstance(sigma, (int, float)):
        taps = gaussian_kernel_1d(sigma, kernel_size).tolist()
    else:
        kernels = torch.stack([gaussian_kernel_1d(s, kernel_size) for s in sigma]).to(video)  # [T, kernel_size]
        taps = list(kernels.T.reshape(kernel_size, -1, 1, 1))
    pad = kernel_size // 2
    padded = F.pad(video, (pad, pad, pad, pad), mode="replicate")  # [C, T] as the batch dimensions
    rows = _weighted_shifts(padded, taps, dim=-1, size=video.shape[-1])
    return _weighted_shifts(rows, taps, dim=-2, size=video.shape[-2])


def _weighted_shifts(padded: torch.Tensor, taps: list, dim: int, size: int) -> torch.Tensor:
    """sum_i taps[i] · padded[i : i + size] along ``dim`` (a float tap, or a [T, 1, 1] one per frame)."""
    output = padded.narrow(dim, 0, size) * taps[0]
    for offset, tap in enumerate(taps[1:], start=1):
        shifted = padded.narrow(dim, offset, size)
        if isinstance(tap, float):
            output.add_(shifted, alpha=tap)
        else:
            output.addcmul_(shifted, tap)
    return output


class GaussianBlur(FrameableTransform):
    """With probability ``p``, a Gaussian blur with sigma uniform in ``sigma``.

    sigma in [0.1, 2.0] with p = 0.5 follow MoCo v2 as used by Feichtenhofer et al. 2021 (§A.2). ``kernel_size=None``
    uses about 10% of the shorter image side (SimCLR).
    """

    def __init__(
        self,
        sigma: tuple[float, float] = (0.1, 2.0),
        p: float = 0.5,
        kernel_size: int | None = None,
        per_frame: bool = False,
    ):
        self.sigma = _range(sigma, "sigma", 1e-6, math.inf)
        if kernel_size is not None and (not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0):
            raise VsslError(f"GaussianBlur kernel_size must be an odd int >= 1 or None, got {kernel_size!r}")
        self.kernel_size = kernel_size
        self.p = _probability(p)
        self.per_frame = per_frame

    def sample_params(self, generator: torch.Generator | None = None) -> float | None:
        """The blur's sigma, or None when the p-coin says no."""
        return _uniform(*self.sigma, generator) if _coin(self.p, generator) else None

    def apply_params(self, video: torch.Tensor, params: float | list[float]) -> torch.Tensor:
        kernel_size = self.kernel_size or default_blur_kernel_size(video.shape[-2], video.shape[-1])
        return gaussian_blur(video, params, kernel_size)

    def apply_frame_params(self, video: torch.Tensor, frame_params: list[float]) -> torch.Tensor:
        return self.apply_params(video, frame_params)


class Normalize(VideoTransform):
    """(video - mean) / std per channel; defaults are PySlowFast's Kinetics statistics."""

    def __init__(self, mean: Sequence[float] = KINETICS_MEAN, std: Sequence[float] = KINETICS_STD):
        if len(mean) != len(std):
            raise VsslError(f"Normalize mean and std must have the same length, got {tuple(mean)} and {tuple(std)}")
        if any(s <= 0 for s in std):
            raise VsslError(f"Normalize std must be > 0, got {tuple(std)}")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1, 1)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if video.shape[0] != self.mean.shape[0]:
            raise VsslError(
                f"Normalize has {self.mean.shape[0]} channel statistics but the video has {video.shape[0]} channels"
            )
        return (video - self.mean.to(video)) / self.std.to(video)


# --- recipes ---


def spatial_train_transforms(crop_size: int, short_side: tuple[int, int] | int, flip: bool,
                             inception_crop: bool) -> list[VideoTransform]:
    """The spatial part of a training view: VGG-style short-side resize + random crop (or the Inception-style
    area/aspect crop), then an optional horizontal flip."""
    if inception_crop:
        spatial: list[VideoTransform] = [RandomResizedCrop(crop_size)]
    else:
        smallest_side = short_side if isinstance(short_side, int) else min(short_side)
        if smallest_side < crop_size:
            raise VsslError(f"short_side {short_side!r} is smaller than crop_size {crop_size}")
        spatial = [ShortSideResize(short_side), RandomCrop(crop_size)]
    return spatial + ([RandomHorizontalFlip()] if flip else [])


# --- temporal difference (Feichtenhofer et al. 2021 Table 7) ---

def temporal_difference(video: torch.Tensor) -> torch.Tensor:
    """Grayscale, then differences between consecutive frames: frame t becomes gray[t + 1] - gray[t].

    The last frame has no successor and repeats the last difference, so a clip keeps its T frames (and its
    shape [3, T, H, W]; the difference is copied onto all three channels).
    """
    gray = to_grayscale(video)
    if video.shape[1] == 1:
        return torch.zeros_like(video)
    diff = gray[:, 1:] - gray[:, :-1]
    return torch.cat([diff, diff[:, -1:]], dim=1).expand_as(video).contiguous()


class RandomTemporalDifference(VideoTransform):
    """With probability ``p`` (Feichtenhofer et al. 2021 Table 7: 0.2) replaces the clip by its grayscale frame differences.

    Put it after the colour augmentations and before normalisation: the differences of a static scene are 0,
    whatever its colours.
    """

    def __init__(self, p: float = 0.2):
        self.p = _probability(p)

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return temporal_difference(video) if _coin(self.p, generator) else video


def build_train_transform(
    crop_size: int,
    short_side: tuple[int, int] | int = (256, 320),
    strength: float = 0.5,
    blur: bool = True,
    grayscale_p: float = 0.2,
    flip: bool = True,
    inception_crop: bool = False,
    temporal_difference_p: float = 0.0,
    mean: Sequence[float] = KINETICS_MEAN,
    std: Sequence[float] = KINETICS_STD,
) -> Compose:
    """Feichtenhofer et al. 2021's pre-training augmentation (§A.2): spatial crop, flip, colour jitter (p 0.8),
    grayscale, Gaussian blur (p 0.5), then normalisation by ``mean`` and ``std`` (Kinetics statistics).

    The default crop is VGG-style: short side uniform in ``short_side`` ([256, 320] in the paper), then a
    random ``crop_size`` crop. ``inception_crop=True`` uses the Table 8 area/aspect crop instead, which is
    relative to the frame, so ``short_side`` is then not used. ``strength`` is the colour strength s of
    Table 7 (0.5 default, 0.75 best); 0 disables colour jitter. ``temporal_difference_p`` > 0 replaces a clip by
    its grayscale frame differences with that probability (Table 7: 0.2), just before normalisation.
    """

    transforms = spatial_train_transforms(crop_size, short_side, flip, inception_crop)
    if strength > 0:
        transforms.append(ColorJitter(*color_jitter_for_strength(strength)))
    if grayscale_p > 0:
        transforms.append(RandomGrayscale(grayscale_p))
    if blur:
        transforms.append(GaussianBlur())
    if temporal_difference_p > 0:
        transforms.append(RandomTemporalDifference(temporal_difference_p))
    return Compose(transforms + [Normalize(mean, std)])


def build_eval_transform(crop_size: int, short_side: int) -> Compose:
    """Deterministic evaluation view: short side to ``short_side``, central ``crop_size`` crop, normalise."""
    if isinstance(short_side, bool) or not isinstance(short_side, int):
        raise VsslError(f"evaluation short_side must be one int, got {short_side!r}")
    if short_side < crop_size:
        raise VsslError(f"short_side {short_side} is smaller than crop_size {crop_size}")
    return Compose([ShortSideResize(short_side), CenterCrop(crop_size), Normalize()])


# --- multi-view evaluation ---

# Spatial crops per clip for multi-view testing: 1 (centre) or 3 (both ends and the centre of the long side), as
# PySlowFast's TEST.NUM_SPATIAL_CROPS; Feichtenhofer et al. 2021 §5 tests 10 clips × 3 crops ("30 views").
SPATIAL_CROP_COUNTS = (1, 3)


class SpatialCrops(VideoTransform):
    """``num_crops`` square ``size`` crops of one clip, stacked as views [S, C, T, size, size].

    One crop: the centre (as :class:`CenterCrop`). Three crops: left, centre and right along the long side (top,
    centre and bottom for portrait frames), each centred on the short side; as PySlowFast's ``uniform_crop``.
    """

    def __init__(self, size: int, num_crops: int):
        self.size = _pair(size, "crop size")
        if num_crops not in SPATIAL_CROP_COUNTS:
            raise VsslError(f"number of spatial crops must be 1 or 3, got {num_crops!r}")
        self.num_crops = num_crops

    def offsets(self, height: int, width: int) -> list[tuple[int, int]]:
        """(top, left) of every crop in a frame of (height, width)."""
        top, left = (height - self.size[0]) // 2, (width - self.size[1]) // 2
        if self.num_crops == 1:
            return [(top, left)]
        if height > width:
            return [(0, left), (top, left), (height - self.size[0], left)]
        return [(top, 0), (top, left), (top, width - self.size[1])]

    def apply(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        _check_crop_fits(video, *self.size)
        return torch.stack([_crop(video, top, left, *self.size) for top, left in self.offsets(*video.shape[-2:])])


def build_multi_crop_eval_transform(crop_size: int, short_side: int, num_crops: int,
                                    mean: Sequence[float] = KINETICS_MEAN,
                                    std: Sequence[float] = KINETICS_STD) -> Compose:
    """Evaluation views: short side to ``short_side``, normalise by ``mean`` and ``std``, then ``num_crops`` crops
    → [S, C, T, H, W].

    With one crop the single view equals :func:`build_eval_transform`'s output.
    """
    if isinstance(short_side, bool) or not isinstance(short_side, int):
        raise VsslError(f"evaluation short_side must be one int, got {short_side!r}")
    if short_side < crop_size:
        raise VsslError(f"short_side {short_side} is smaller than crop_size {crop_size}")
    return Compose([ShortSideResize(short_side), Normalize(mean, std), SpatialCrops(crop_size, num_crops)])
