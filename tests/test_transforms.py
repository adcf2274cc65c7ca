"""Video transforms: exact crops and colour maths, same parameters on every frame, reproducibility."""

import math

import numpy as np
import pytest
import torch

from vssl.core.errors import VsslError
from vssl.data.transforms import (
                                  CenterCrop,
                                  ColorJitter,
                                  Compose,
                                  GaussianBlur,
                                  Normalize,
                                  RandomCrop,
                                  RandomGrayscale,
                                  RandomHorizontalFlip,
                                  RandomResizedCrop,
                                  ShortSideResize,
                                  adjust_hue,
                                  build_eval_transform,
                                  build_train_transform,
                                  color_jitter_for_strength,
                                  default_blur_kernel_size,
                                  gaussian_blur,
                                  rgb_to_hsv,
                                  to_float_video,
                                  )


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def static_video(frames: int = 4, height: int = 48, width: int = 64, seed: int = 0) -> torch.Tensor:
    """A random RGB image repeated over time: [3, frames, height, width]."""
    image = torch.rand(3, 1, height, width, generator=seeded(seed))
    return image.expand(3, frames, height, width).clone()


def assert_frames_identical(video: torch.Tensor) -> None:
    for t in range(1, video.shape[1]):
        torch.testing.assert_close(video[:, t], video[:, 0], rtol=0, atol=1e-6)


def pixel_video(rgb) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1, 1)


def test_to_float_video_layout_and_scale():
    frames = np.random.default_rng(0).integers(0, 256, size=(2, 3, 4, 3), dtype=np.uint8)
    video = to_float_video(frames)
    assert video.shape == (3, 2, 3, 4) and video.dtype == torch.float32
    assert video[2, 1, 0, 3].item() == pytest.approx(frames[1, 0, 3, 2] / 255)
    assert to_float_video(np.full((1, 1, 1, 3), 255, dtype=np.uint8)).max().item() == 1.0
    with pytest.raises(VsslError, match="uint8"):
        to_float_video(frames.astype(np.float32))


SAME_ON_EVERY_FRAME = [
    ShortSideResize((20, 40)),
    RandomCrop(24),
    RandomResizedCrop(24),
    RandomHorizontalFlip(p=1.0),
    ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0),
    RandomGrayscale(p=1.0),
    GaussianBlur(p=1.0),
    build_train_transform(24, (48, 56)),
    build_train_transform(24, (48, 56), strength=1.0, inception_crop=True),
]


@pytest.mark.parametrize("transform", SAME_ON_EVERY_FRAME, ids=lambda t: type(t).__name__)
def test_random_transforms_change_every_frame_the_same_way(transform):
    video = static_video()
    for seed in range(3):
        output = transform(video, seeded(seed))
        changed = output.shape != video.shape or not torch.equal(output, video)
        assert changed
        assert_frames_identical(output)


def test_per_frame_colour_transforms_differ_between_frames():
    video = static_video(frames=6)
    for transform in (ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0, per_frame=True), GaussianBlur(p=1.0, per_frame=True)):
        output = transform(video, seeded(0))
        assert not torch.allclose(output[:, 0], output[:, 1], atol=1e-4)
    # p = 0.5 per frame: over 16 frames some are gray and some are not.
    output = RandomGrayscale(p=0.5, per_frame=True)(static_video(frames=16), seeded(0))
    gray = [torch.equal(output[0, t], output[1, t]) for t in range(16)]
    assert any(gray) and not all(gray)


def test_flip_mirrors_width():
    video = torch.rand(3, 2, 5, 7, generator=seeded(0))
    assert torch.equal(RandomHorizontalFlip(p=1.0)(video), torch.flip(video, dims=[-1]))
    assert torch.equal(RandomHorizontalFlip(p=0.0)(video), video)


def test_center_crop_exact_window():
    video = torch.arange(5 * 6, dtype=torch.float32).view(1, 1, 5, 6)
    # top = (5 - 3) // 2 = 1, left = (6 - 2) // 2 = 2; value = row * 6 + column
    assert CenterCrop((3, 2))(video)[0, 0].tolist() == [[8.0, 9.0], [14.0, 15.0], [20.0, 21.0]]
    # odd margin 6 - 3 = 3: one pixel above, two below
    assert CenterCrop(3)(torch.arange(36.0).view(1, 1, 6, 6))[0, 0, :, 0].tolist() == [7.0, 13.0, 19.0]


def test_random_crop_takes_the_sampled_window():
    video = torch.arange(2 * 10 * 12, dtype=torch.float32).view(1, 2, 10, 12)
    crop = RandomCrop((4, 5))
    top, left = crop.sample_params(10, 12, seeded(3))
    assert 0 <= top <= 6 and 0 <= left <= 7
    assert torch.equal(crop(video, seeded(3)), video[:, :, top : top + 4, left : left + 5])
    generator = seeded(0)
    positions = {crop.sample_params(10, 12, generator) for _ in range(500)}
    assert {p[0] for p in positions} == set(range(7)) and {p[1] for p in positions} == set(range(8))


def test_random_resized_crop_area_and_aspect_in_range():
    crop = RandomResizedCrop(32)  # Feichtenhofer et al. 2021 Table 8: area [0.2, 0.76], aspect [3/4, 4/3]
    generator = seeded(0)
    areas = []
    for _ in range(300):
        top, left, height, width = crop.sample_params(200, 300, generator)
        assert 0 <= top <= 200 - height and 0 <= left <= 300 - width
        areas.append(height * width / (200 * 300))
        assert 3 / 4 - 0.01 <= width / height <= 4 / 3 + 0.01
    assert min(areas) >= 0.2 - 0.01 and max(areas) <= 0.76 + 0.01
    assert min(areas) < 0.25 and max(areas) > 0.7
    assert crop(torch.rand(3, 2, 200, 300), seeded(1)).shape == (3, 2, 32, 32)


def test_random_resized_crop_centre_fallback():
    # aspect >= 3 with area >= 0.9 never fits a square frame: widest centred box with aspect 3.
    crop = RandomResizedCrop(16, area=(0.9, 1.0), aspect=(3.0, 4.0))
    assert crop.sample_params(90, 90, seeded(0)) == (30, 0, 30, 90)


def test_short_side_resize_keeps_aspect():
    assert ShortSideResize(30)(torch.rand(3, 2, 60, 80)).shape == (3, 2, 30, 40)
    assert ShortSideResize(30)(torch.rand(3, 2, 80, 60)).shape == (3, 2, 40, 30)
    generator = seeded(0)
    short_sides = {ShortSideResize((20, 23))(torch.rand(3, 1, 40, 50), generator).shape[-2] for _ in range(60)}
    assert short_sides == {20, 21, 22, 23}


def test_resize_of_a_constant_video_stays_constant():
    output = ShortSideResize(17)(torch.full((3, 2, 40, 50), 0.3))
    torch.testing.assert_close(output, torch.full_like(output, 0.3))


def test_rgb_to_hsv_by_hand():
    # (0.2, 0.4, 0.8): max 0.8 (blue), chroma 0.6 -> s = 0.75, h = ((0.2 - 0.4) / 0.6 + 4) / 6
    hsv = rgb_to_hsv(pixel_video([0.2, 0.4, 0.8])).flatten().tolist()
    assert hsv == pytest.approx([(4 - 1 / 3) / 6, 0.75, 0.8])


def test_hue_shift_by_zero_is_identity_and_a_third_turns_red_to_green():
    video = torch.rand(3, 3, 16, 16, generator=seeded(0))
    video[:, 0, 0, 0] = torch.tensor([0.5, 0.5, 0.5])  # gray: undefined hue
    video[:, 0, 0, 1] = 0.0  # black
    torch.testing.assert_close(adjust_hue(video, 0.0), video, rtol=0, atol=1e-5)
    red = pixel_video([1.0, 0.0, 0.0])
    torch.testing.assert_close(adjust_hue(red, 1 / 3), pixel_video([0.0, 1.0, 0.0]), rtol=0, atol=1e-5)
    torch.testing.assert_close(adjust_hue(red, 0.5), pixel_video([0.0, 1.0, 1.0]), rtol=0, atol=1e-5)


def test_grayscale_uses_itu_601_luma():
    output = RandomGrayscale(p=1.0)(pixel_video([0.2, 0.4, 0.8]))
    expected = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.8  # 0.3858
    assert output.flatten().tolist() == pytest.approx([expected] * 3)


def test_brightness_jitter_scales_by_the_sampled_factor():
    jitter = ColorJitter(brightness=0.5, contrast=0, saturation=0, hue=0, p=1.0)
    ops = jitter.sample_params(seeded(4))
    assert len(ops) == 1 and ops[0][0] == "brightness" and 0.5 <= ops[0][1] <= 1.5
    video = torch.full((3, 2, 4, 4), 0.5)
    torch.testing.assert_close(jitter(video, seeded(4)), torch.full_like(video, 0.5 * ops[0][1]))
    assert jitter.sample_params(seeded(4)) == ops
    assert ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.0)(video, seeded(0)) is video


def test_color_jitter_applies_all_four_ops_in_random_order():
    jitter = ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)
    generator = seeded(0)
    orders = {tuple(name for name, _ in jitter.sample_params(generator)) for _ in range(200)}
    assert all(sorted(order) == ["brightness", "contrast", "hue", "saturation"] for order in orders)
    assert len(orders) > 10


def test_color_strength_matches_moco_default_and_aug_plus():
    assert color_jitter_for_strength(0.5) == pytest.approx((0.4, 0.4, 0.4, 0.1))  # MoCo v2 / PySlowFast default
    assert color_jitter_for_strength(0.75) == pytest.approx((0.6, 0.6, 0.6, 0.15))  # Feichtenhofer et al. 2021 "aug+"


def test_gaussian_blur_of_an_impulse_by_hand():
    impulse = torch.zeros(3, 1, 7, 7)
    impulse[:, :, 3, 3] = 1.0
    blurred = gaussian_blur(impulse, sigma=1.0, kernel_size=3)
    centre_weight = 1 / (1 + 2 * math.exp(-0.5))  # 1D kernel [e^-0.5, 1, e^-0.5] normalised
    side_weight = math.exp(-0.5) * centre_weight
    assert blurred[0, 0, 3, 3].item() == pytest.approx(centre_weight**2)
    assert blurred[1, 0, 2, 3].item() == pytest.approx(centre_weight * side_weight)
    assert blurred[2, 0, 2, 2].item() == pytest.approx(side_weight**2)
    assert blurred.sum().item() == pytest.approx(3.0)
    assert default_blur_kernel_size(224, 224) == 23 and default_blur_kernel_size(112, 160) == 11


def test_normalize_by_hand():
    assert Normalize()(torch.full((3, 1, 1, 1), 0.9)).flatten().tolist() == pytest.approx([2.0] * 3)  # (0.9-0.45)/0.225
    output = Normalize(mean=(0.5, 0.0, 1.0), std=(0.5, 2.0, 0.25))(pixel_video([1.0, 1.0, 0.5]))
    assert output.flatten().tolist() == pytest.approx([1.0, 0.5, -2.0])


def test_train_transform_is_reproducible_for_a_seed():
    transform = build_train_transform(crop_size=32, short_side=(36, 44))
    video = torch.rand(3, 4, 40, 56, generator=seeded(9))
    first = transform(video, seeded(1))
    assert first.shape == (3, 4, 32, 32)
    torch.testing.assert_close(transform(video, seeded(1)), first, rtol=0, atol=0)
    assert not torch.allclose(transform(video, seeded(2)), first)


def test_eval_transform_is_resize_centre_crop_normalize():
    video = torch.rand(3, 2, 40, 60, generator=seeded(0))
    output = build_eval_transform(crop_size=16, short_side=20)(video)
    expected = Compose([ShortSideResize(20), CenterCrop(16), Normalize()])(video)
    assert output.shape == (3, 2, 16, 16)
    torch.testing.assert_close(output, expected, rtol=0, atol=0)


def test_bad_inputs_raise_vssl_error():
    with pytest.raises(VsslError, match="crop size"):
        CenterCrop(50)(torch.rand(3, 1, 40, 60))
    with pytest.raises(VsslError, match=r"\[C, T, H, W\]"):
        RandomHorizontalFlip()(torch.rand(3, 40, 60))
    with pytest.raises(VsslError, match="short_side"):
        build_train_transform(crop_size=224, short_side=(128, 160))
    with pytest.raises(VsslError, match="short_side"):
        build_eval_transform(crop_size=224, short_side=[256, 320])
    with pytest.raises(VsslError, match="hue"):
        ColorJitter(0.4, 0.4, 0.4, 0.7)
    with pytest.raises(VsslError, match="area"):
        RandomResizedCrop(32, area=(0.8, 0.2))
    with pytest.raises(VsslError, match="kernel_size"):
        GaussianBlur(kernel_size=4)

