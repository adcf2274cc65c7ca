"""NTU `.skeleton` files in the official text format (a fixture written here) and the skeleton augmentations of
Thoker 2023 Ch. 3, by hand."""

import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.data.formats.ntu_skeleton import joint_jitter, read_skeleton, shear, temporal_crop_resize

BODY = "72057594037931101 0 1 1 1 1 0 0.1 -0.2 2"


def joint_line(x, y, z):
    return f"{x} {y} {z} 250.1 180.2 960.5 540.3 0.1 0.2 0.3 0.9 2"


def skeleton_text(frames: list[list[list[tuple]]]) -> str:
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for joints in bodies:
            lines += [BODY, str(len(joints)), *(joint_line(*j) for j in joints)]
    return "\n".join(lines) + "\n"


def test_reads_camera_coordinates_of_every_body(tmp_path):
    body_a = [(0.1 * j, 0.2, 3.0) for j in range(25)]
    body_b = [(-1.0, 0.5 * j, 2.5) for j in range(25)]
    path = tmp_path / "S001C001P001R001A010.skeleton"
    path.write_text(skeleton_text([[body_a], [body_a, body_b], []]))
    joints = read_skeleton(path)
    assert joints.shape == (3, 2, 25, 3) and joints.dtype == np.float32
    assert joints[0, 0, 4].tolist() == pytest.approx([0.4, 0.2, 3.0])
    assert joints[1, 1, 2].tolist() == pytest.approx([-1.0, 1.0, 2.5])
    assert not joints[0, 1].any() and not joints[2].any()  # absent bodies and frames stay zero


def test_a_malformed_file_names_the_line(tmp_path):
    path = tmp_path / "bad.skeleton"
    path.write_text("1\n1\n" + BODY + "\n25\n1 2 3\n")
    with pytest.raises(VsslError, match=r"bad.skeleton:5: expected 12 value\(s\), got 3"):
        read_skeleton(path)


def test_shear_keeps_the_diagonal_and_bounds_the_rest():
    rng = np.random.default_rng(0)
    unit = np.eye(3, dtype=np.float32)[None]  # the three unit vectors as joints: the output rows are the matrix
    matrix = shear(rng, unit)[0].T
    assert np.allclose(np.diag(matrix), 1.0) and np.abs(matrix - np.eye(3)).max() <= 1.0


def test_joint_jitter_moves_15_joints_alike_in_every_frame():
    rng = np.random.default_rng(1)
    sequence = np.random.default_rng(2).normal(size=(4, 25, 3)).astype(np.float32)
    jittered = joint_jitter(rng, sequence)
    moved = ~np.isclose(jittered, sequence).all(axis=(0, 2))
    assert moved.sum() == 15
    assert np.array_equal(jittered[:, ~moved], sequence[:, ~moved])


def test_temporal_crop_resize_by_hand():
    """Frames numbered 0 … 9; a full-length crop resampled to 4 frames gives 0, 3, 6, 9; shorter crops stay inside a
    contiguous segment."""
    sequence = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((10, 2, 3), dtype=np.float32)
    full = temporal_crop_resize(np.random.default_rng(0), sequence, 4, ratio=(1.0, 1.0))
    assert full[:, 0, 0].tolist() == [0.0, 3.0, 6.0, 9.0]
    rng = np.random.default_rng(3)
    for _ in range(20):
        values = temporal_crop_resize(rng, sequence, 8)[:, 0, 0]
        assert (np.diff(values) >= 0).all() and values[0] >= 0 and values[-1] <= 9
