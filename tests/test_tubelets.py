"""Tubelets (Thoker 2023, Ch. 5): trajectories in bounds and within Δ, exact interpolation at keyframes, identical
pasting onto both clips, a hand-made 4×4 paste, the transformations over time, and one epoch of the method."""

import math

import numpy as np
import pytest
import torch

from vssl.core.errors import ConfigError
from vssl.methods.tubelet_contrast import TubeletContrastConfig, tubelet_pair
from vssl.methods.tubelets import (Tubelet, affine_matrices, draw_tubelet, gaussian_smooth, interpolate,
                                   keyframe_times, linear_trajectory, nonlinear_trajectory, paste, paste_tubelet,
                                   shape_mask)
from conftest import one_epoch_losses


def test_keyframes_are_first_last_and_distinct_random_frames():
    rng = np.random.default_rng(0)
    for _ in range(50):
        times = keyframe_times(rng, 16, 4)
        assert times[0] == 0 and times[-1] == 15 and len(set(times.tolist())) == 4 and list(times) == sorted(times)


def test_interpolation_is_exact_at_keyframes_and_linear_between():
    times = np.array([0, 4, 8])
    values = np.array([[0.0, 10.0], [8.0, 2.0], [8.0, 6.0]])
    per_frame = interpolate(times, values, 9)
    np.testing.assert_array_equal(per_frame[times], values)
    assert per_frame[2].tolist() == [4.0, 6.0] and per_frame[6].tolist() == [8.0, 4.0]


def test_linear_trajectories_stay_in_bounds_and_keyframes_are_less_than_delta_apart():
    rng = np.random.default_rng(1)
    for _ in range(200):
        times = keyframe_times(rng, 16)
        centres = linear_trajectory(rng, 16, 10.0, 100.0, 30.0, times)
        assert centres.min() >= 10.0 and centres.max() <= 100.0
        jumps = np.hypot(*np.diff(centres[times], axis=0).T)
        assert (jumps < 30.0).all()


def test_nonlinear_trajectories_are_smooth_and_in_bounds():
    rng = np.random.default_rng(2)
    centres = nonlinear_trajectory(rng, 16, 10.0, 100.0)
    assert centres.shape == (16, 2) and centres.min() >= 10.0 and centres.max() <= 100.0
    raw_steps = np.abs(np.diff(rng.uniform(10, 100, size=(16, 2)), axis=0)).mean()
    assert np.abs(np.diff(centres, axis=0)).mean() < raw_steps / 3  # σ = 8 of 48 points smooths strongly
    np.testing.assert_allclose(gaussian_smooth(np.full(20, 3.0), 2.0), 3.0)  # a constant stays constant


def test_transformations_leave_the_first_frame_untouched_and_rotate_by_the_drawn_angle():
    rng = np.random.default_rng(3)
    times = np.array([0, 5, 9])
    matrices = affine_matrices(rng, times, 10, ("rotation",))
    np.testing.assert_allclose(matrices[0], np.eye(2))
    for k in (5, 9):
        np.testing.assert_allclose(np.linalg.det(matrices[k]), 1.0, atol=1e-12)  # a pure rotation
        assert abs(math.degrees(math.atan2(matrices[k][1, 0], matrices[k][0, 0]))) <= 90.0
    assert np.allclose(affine_matrices(rng, times, 10, ()), np.eye(2))


def test_a_hand_made_4x4_paste():
    """A 2×2 patch (1 2 / 3 4) centred at (2, 2) of a 4×4 zero frame covers rows and columns 1–2; with a mask
    without its top-left pixel, centred at (3, 1), lands in the top-right corner; mirrored in x, its columns swap."""
    frame = torch.zeros(1, 4, 4)
    patch = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    paste(frame, patch, np.ones((2, 2), dtype=bool), (2.0, 2.0), np.eye(2))
    assert frame[0].tolist() == [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]
    shifted = torch.zeros(1, 4, 4)
    paste(shifted, patch, np.array([[False, True], [True, True]]), (3.0, 1.0), np.eye(2))
    assert shifted[0].tolist() == [[0, 0, 0, 2], [0, 0, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]]
    flipped = torch.zeros(1, 4, 4)
    paste(flipped, patch, np.ones((2, 2), dtype=bool), (2.0, 2.0), np.diag([-1.0, 1.0]))  # mirrored in x
    assert flipped[0].tolist() == [[0, 0, 0, 0], [0, 2, 1, 0], [0, 4, 3, 0], [0, 0, 0, 0]]


def test_the_same_tubelets_are_pasted_byte_identically_on_both_clips():
    rng = np.random.default_rng(4)
    first, second = torch.rand(3, 8, 32, 32), torch.rand(3, 8, 32, 32)
    config = TubeletContrastConfig(tubelets=2, motion="linear", transforms=("scale", "rotation", "shear"))
    a, b = tubelet_pair(first, second, config, rng)
    changed_a, changed_b = (a != first).any(dim=0), (b != second).any(dim=0)
    assert changed_a.any()
    both = changed_a & changed_b
    assert torch.equal(a[:, both], b[:, both])  # where both were pasted on, the pixels are the same bytes
    assert torch.equal(first, first.clone())  # the inputs are left alone


def test_shapes_and_settings():
    assert shape_mask("diamond", 3, 3).tolist() == [[False, True, False], [True, True, True], [False, True, False]]
    with pytest.raises(ConfigError, match="method.motion"):
        TubeletContrastConfig(motion="circular")
    with pytest.raises(ConfigError, match="method.transforms"):
        TubeletContrastConfig(transforms=("blur",))
    tubelet = draw_tubelet(np.random.default_rng(5), torch.rand(3, 8, 32, 32), "static", ())
    assert isinstance(tubelet, Tubelet) and (tubelet.centres == tubelet.centres[0]).all()
    clip = torch.zeros(3, 8, 32, 32)
    paste_tubelet(clip, tubelet)
    assert torch.equal(clip[:, 0] != 0, clip[:, 7] != 0)  # static and untransformed: the same pixels every frame


def test_one_epoch_through_vssl_pretrain(micro_manifest, tmp_path):
    losses = one_epoch_losses(micro_manifest, tmp_path,
                              "tubelet_world32", "method.queue_size=8", "method.proj_hidden=32")
    assert losses and all(math.isfinite(loss) for loss in losses)
