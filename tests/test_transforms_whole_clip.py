"""Whole-clip transforms equal the former frame-by-frame ones, drawing the same random parameters in the same order."""

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vssl.data import transforms as T

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from frame_transforms import adjust_hue, resize_frames, rgb_to_hsv  # noqa: E402  the frozen per-frame HSV and resize

# --- the reference: the transforms as they ran frame by frame before whole-clip augmentation ---


def ref_uniform(low, high, generator):
    return low + (high - low) * torch.rand((), generator=generator).item()


def ref_randint(low, high, generator):
    return int(torch.randint(low, high + 1, (), generator=generator).item())


def ref_coin(p, generator):
    return torch.rand((), generator=generator).item() < p


def ref_gray(video):
    return (0.299 * video[0] + 0.587 * video[1] + 0.114 * video[2]).unsqueeze(0)


REF_ADJUSTMENTS = {
    "brightness": lambda video, factor: (video * factor).clamp(0, 1),
    "contrast": lambda video, factor: (
        factor * video + (1 - factor) * ref_gray(video).mean(dim=(0, 2, 3), keepdim=True)).clamp(0, 1),
    "saturation": lambda video, factor: (factor * video + (1 - factor) * ref_gray(video)).clamp(0, 1),
    "hue": adjust_hue,
}


def ref_blur(video, sigma, kernel_size):
    channels = video.shape[0]
    offsets = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    pad = kernel_size // 2
    frames = F.pad(video.permute(1, 0, 2, 3), (pad, pad, pad, pad), mode="replicate")
    frames = F.conv2d(frames, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, kernel_size), groups=channels)
    frames = F.conv2d(frames, kernel.view(1, 1, -1, 1).expand(channels, 1, kernel_size, 1), groups=channels)
    return frames.permute(1, 0, 2, 3).contiguous()


def ref_default_kernel(video):
    size = max(3, int(0.1 * min(video.shape[-2:])))
    return size if size % 2 == 1 else size + 1


def ref_draw_jitter(strengths, p, generator):
    if not ref_coin(p, generator):
        return None
    active = [name for name, strength in strengths.items() if strength > 0]
    ops = []
    for index in torch.randperm(len(active), generator=generator).tolist():
        name, strength = active[index], strengths[active[index]]
        low, high = (-strength, strength) if name == "hue" else (max(0.0, 1 - strength), 1 + strength)
        ops.append((name, ref_uniform(low, high, generator)))
    return ops


def ref_apply_jitter(frame, ops):
    for name, factor in ops:
        frame = REF_ADJUSTMENTS[name](frame, factor)
    return frame


def ref_frame_by_frame(video, draw, apply, per_frame, generator):
    """One draw per clip (or per frame), then every frame on its own."""
    frames = video.split(1, dim=1)
    frame_params = [draw(generator) for _ in frames] if per_frame else [draw(generator)] * len(frames)
    if all(params is None for params in frame_params):
        return video
    return torch.cat([frame if params is None else apply(frame, params) for frame, params in zip(frames, frame_params)],
                     dim=1)


def ref_jitter(strengths, p, per_frame=False):
    return lambda video, generator: ref_frame_by_frame(
        video, lambda g: ref_draw_jitter(strengths, p, g), ref_apply_jitter, per_frame, generator)


def ref_grayscale(p, per_frame=False):
    return lambda video, generator: ref_frame_by_frame(
        video, lambda g: True if ref_coin(p, g) else None, lambda frame, _: ref_gray(frame).expand_as(frame),
        per_frame, generator)


def ref_gaussian_blur(p, per_frame=False):
    return lambda video, generator: ref_frame_by_frame(
        video, lambda g: ref_uniform(0.1, 2.0, g) if ref_coin(p, g) else None,
        lambda frame, sigma: ref_blur(frame, sigma, ref_default_kernel(frame)), per_frame, generator)


def ref_train_transform(video, generator, crop_size, short_side, strength, blur):
    """build_train_transform's default recipe (VGG-style crop, flip, jitter, grayscale, blur, normalise)."""
    side = ref_randint(*short_side, generator)
    height, width = video.shape[-2:]
    if height <= width:
        video = resize_frames(video, side, max(1, round(width * side / height)))
    else:
        video = resize_frames(video, max(1, round(height * side / width)), side)
    top = ref_randint(0, video.shape[-2] - crop_size, generator)
    left = ref_randint(0, video.shape[-1] - crop_size, generator)
    video = video[..., top:top + crop_size, left:left + crop_size]
    if ref_coin(0.5, generator):
        video = video.flip(-1)
    strengths = dict(zip(("brightness", "contrast", "saturation", "hue"), (0.8 * strength,) * 3 + (0.2 * strength,)))
    video = ref_jitter(strengths, 0.8)(video, generator)
    video = ref_grayscale(0.2)(video, generator)
    if blur:
        video = ref_gaussian_blur(0.5)(video, generator)
    return (video - 0.45) / 0.225


# --- tests ---


def assert_same(new, reference):
    torch.testing.assert_close(new, reference, atol=1e-6, rtol=1e-5)


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def awkward_clip(frames=4, height=20, width=24, seed=0):
    """Random colours plus gray, black, white and tied-maximum pixels, some quantised to 8 bits as decoded."""
    video = torch.rand(3, frames, height, width, generator=seeded(seed))
    video[:, :, 1::2] = (video[:, :, 1::2] * 255).round() / 255
    corner = video[:, 0, 0]
    corner[:, 0], corner[:, 1], corner[:, 2] = 0.5, 0.0, 1.0
    corner[:2, 3], corner[1:, 4], corner[::2, 5] = 0.7, 0.7, 0.7
    return video


STRENGTHS = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}


@pytest.mark.parametrize("name", list(REF_ADJUSTMENTS))
def test_colour_adjustments_equal_the_reference(name):
    video = awkward_clip()
    factors = (-0.5, -0.31, -0.02, 0.0, 0.07, 0.5) if name == "hue" else (0.0, 0.6, 1.0, 1.4)
    for factor in factors:
        assert_same(T.COLOR_ADJUSTMENTS[name](video, factor), REF_ADJUSTMENTS[name](video, factor))
    assert_same(T.rgb_to_hsv(video), rgb_to_hsv(video))


@pytest.mark.parametrize("sigma, kernel_size", [(0.1, 3), (1.0, 5), (2.0, 11), (0.7, 1)])
def test_gaussian_blur_equals_the_reference(sigma, kernel_size):
    video = awkward_clip(frames=3, height=17, width=30)
    assert_same(T.gaussian_blur(video, sigma, kernel_size), ref_blur(video, sigma, kernel_size))


@pytest.mark.parametrize("seed", range(4))
def test_shared_parameters_on_the_whole_clip_equal_frame_by_frame(seed):
    video = awkward_clip(frames=5, seed=seed)
    cases = [(T.ColorJitter(*STRENGTHS.values(), p=1.0), ref_jitter(STRENGTHS, 1.0)),
             (T.RandomGrayscale(p=1.0), ref_grayscale(1.0)),
             (T.GaussianBlur(p=1.0), ref_gaussian_blur(1.0))]
    for transform, reference in cases:
        assert_same(transform(video, seeded(seed)), reference(video, seeded(seed)))


@pytest.mark.parametrize("seed", range(4))
def test_per_frame_parameters_batched_over_time_equal_frame_by_frame(seed):
    """p = 0.5 per frame: some frames are left alone, the others change each with its own draw."""
    video = awkward_clip(frames=8, seed=seed)
    cases = [(T.ColorJitter(*STRENGTHS.values(), p=0.5, per_frame=True), ref_jitter(STRENGTHS, 0.5, per_frame=True)),
             (T.RandomGrayscale(p=0.5, per_frame=True), ref_grayscale(0.5, per_frame=True)),
             (T.GaussianBlur(p=0.5, per_frame=True), ref_gaussian_blur(0.5, per_frame=True))]
    for transform, reference in cases:
        generator, ref_generator = seeded(seed), seeded(seed)
        assert_same(transform(video, generator), reference(video, ref_generator))
        assert torch.equal(generator.get_state(), ref_generator.get_state())


@pytest.mark.parametrize("frames, height, width, short_side, crop, strength, blur", [
    (8, 32, 32, (32, 40), 32, 0.5, False),  # the demo's world32 recipe
    (8, 64, 64, (60, 72), 56, 0.5, True),  # benchmarks/loader.py
    (4, 128, 171, (128, 160), 112, 0.75, True),  # Feichtenhofer et al. 2021 "aug+" colour strength
])
def test_train_pipeline_equals_the_reference_for_a_seeded_generator(frames, height, width, short_side, crop,
                                                                    strength, blur):
    transform = T.build_train_transform(crop, short_side, strength=strength, blur=blur)
    for seed in range(6):
        video = torch.rand(3, frames, height, width, generator=seeded(100 + seed))
        generator, ref_generator = seeded(seed), seeded(seed)
        output = transform(video, generator)
        assert_same(output, ref_train_transform(video, ref_generator, crop, short_side, strength, blur))
        assert torch.equal(generator.get_state(), ref_generator.get_state())


def test_random_resized_crop_equals_the_reference_resize_of_its_box():
    video = torch.rand(3, 4, 60, 80, generator=seeded(0))
    crop = T.RandomResizedCrop(32)
    for seed in range(4):
        top, left, height, width = crop.sample_params(60, 80, seeded(seed))
        expected = resize_frames(video[..., top:top + height, left:left + width], 32, 32)
        assert_same(crop(video, seeded(seed)), expected)


def test_per_frame_kernels_are_each_frames_own_gaussian():
    video = awkward_clip(frames=3)
    sigmas = [0.3, 1.0, math.sqrt(2)]
    blurred = T.gaussian_blur(video, sigmas, 5)
    for t, sigma in enumerate(sigmas):
        assert_same(blurred[:, t:t + 1], ref_blur(video[:, t:t + 1], sigma, 5))
