"""Statistics labels (Wang 2020): partitioning patterns, motion and appearance labels worked out by hand, Farnebäck
flow on synthetic clips (also through an mp4), and the on-disk label cache (written once, reused, resumed)."""

import os

import cv2
import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.methods import label_cache
from vssl.methods.flow_statistics import (appearance_labels, clip_statistics, dense_flow, label_frames, motion_labels,
                                       pattern_regions, summarize_motion)
from vssl.methods.label_cache import (LabelledClipSampler, LabelTable, clip_labels, compute_statistics_labels,
                                   default_labels_path)
from vssl.data.synthetic import write_mp4
from vssl.data.video import open_video

# --- partitioning patterns -------------------------------------------------------------------------------------


def test_patterns_on_an_8x8_frame():
    grid = np.arange(16).reshape(4, 4).repeat(2, axis=0).repeat(2, axis=1)
    assert np.array_equal(pattern_regions(1, 8, 8), grid)
    rings = np.array([[3, 3, 3, 3, 3, 3, 3, 3],
                      [3, 2, 2, 2, 2, 2, 2, 3],
                      [3, 2, 1, 1, 1, 1, 2, 3],
                      [3, 2, 1, 0, 0, 1, 2, 3],
                      [3, 2, 1, 0, 0, 1, 2, 3],
                      [3, 2, 1, 1, 1, 1, 2, 3],
                      [3, 2, 2, 2, 2, 2, 2, 3],
                      [3, 3, 3, 3, 3, 3, 3, 3]])
    assert np.array_equal(pattern_regions(2, 8, 8), rings)
    # octants counter-clockwise from east-north-east; pixels on a diagonal join the top/bottom triangles
    octants = np.array([[2, 2, 2, 2, 1, 1, 1, 1],
                        [3, 2, 2, 2, 1, 1, 1, 0],
                        [3, 3, 2, 2, 1, 1, 0, 0],
                        [3, 3, 3, 2, 1, 0, 0, 0],
                        [4, 4, 4, 5, 6, 7, 7, 7],
                        [4, 4, 5, 5, 6, 6, 7, 7],
                        [4, 5, 5, 5, 6, 6, 6, 7],
                        [5, 5, 5, 5, 6, 6, 6, 6]])
    assert np.array_equal(pattern_regions(3, 8, 8), octants)


def test_pattern_areas_at_112_pixels_match_the_authors_geometry():
    # pattern 2 of the authors' code: centre 28², then squares of 56², 84², 112² (14 px gaps)
    assert np.bincount(pattern_regions(2, 112, 112).ravel()).tolist() == [28**2, 56**2 - 28**2, 84**2 - 56**2,
                                                                           112**2 - 84**2]
    # pattern 3: 56×56 quadrant triangles, 56·55/2 strictly inside, 56·57/2 with the diagonal
    assert np.bincount(pattern_regions(3, 112, 112).ravel()).tolist() == [1540, 1596, 1596, 1540] * 2
    assert np.bincount(pattern_regions(3, 64, 96).ravel()).tolist() == [768] * 8  # corner-to-corner diagonals
    with pytest.raises(VsslError, match="pattern"):
        pattern_regions(4, 8, 8)


# --- motion labels ---------------------------------------------------------------------------------------------


def test_motion_labels_of_a_hand_made_flow():
    """7 flows of 64×64. u = 2 on rows ≥ 48, columns ≥ 40 (3 in flow 3); v = 1 on rows ≥ 40, columns ≥ 48 (2 in flow 5).

    Summed u: U = 15 there, so central differences put 7.5 on columns 39 and 40 (∂u/∂x, 0°) and on rows 47 and 48
    (∂u/∂y > 0, pointing down: 270°). Grid block 14 (rows 48–63, columns 32–47) holds 120 + 112.5 at 0°, 52.5 at
    270° and the corner 10.6 at 315°: 295.6 against 120 for blocks 11 and 15 → (14, bin 0). Rings: ring 2 holds
    295.6 / 1280 px (112.5 at 0°, 172.5 at 270°) against 240 / 1792 for ring 3 → (2, bin 6). Octants: 6 holds
    363.1 (232.5 at 0°) against 232.5 for octant 7 → (6, bin 0). Summed v: V = 8, 4 per boundary pixel; block 11
    holds 124 at 270°, 28 at 0° → (11, bin 6); ring 2 holds 92 at 0°, 60 at 270° → (2, 0); octant 7 holds 185.7
    (124 at 270°) against 132 for octant 6 → (7, 6). The largest boundary energy is in flow 3 for u and 5 for v.
    """
    flow = np.zeros((7, 64, 64, 2), dtype=np.float32)
    flow[:, 48:, 40:, 0] = 2.0
    flow[3, 48:, 40:, 0] = 3.0
    flow[:, 40:, 48:, 1] = 1.0
    flow[5, 40:, 48:, 1] = 2.0
    assert motion_labels(summarize_motion(flow)).tolist() == [14, 0, 11, 6, 2, 6, 2, 0, 6, 0, 7, 6, 3, 5]


def test_motion_boundaries_are_zero_for_a_uniform_flow():
    summary = summarize_motion(np.full((5, 32, 48, 2), [2.0, -1.0], dtype=np.float32))
    assert not summary.magnitude_u.any() and not summary.magnitude_v.any()
    assert not summary.energy_u.any() and not summary.energy_v.any()


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return cv2.GaussianBlur(rng.uniform(0, 255, size=(height, width)), (0, 0), 1.5)


def _gray_clip(images: list[np.ndarray]) -> np.ndarray:
    return np.stack([np.repeat(image[..., None], 3, axis=2).clip(0, 255).astype(np.uint8) for image in images])


def _scrolling_window_clip(frames: int = 8, speed: int = 2) -> np.ndarray:
    """A static textured 64² background; inside the window rows ≥ 48, columns ≥ 40 (the bottom-right corner) a second
    texture scrolls right by ``speed`` px per frame. Farnebäck needs texture on both sides to pin the flow (a flat
    background would take on the window's motion), and the window's only boundaries inside the frame are its left
    edge (u rises left to right: M_u at 0°) and its top edge (270°), both within grid block 14 or next to it."""
    rng = np.random.default_rng(0)
    background = _texture(rng, 64, 64)
    moving = _texture(rng, 64, 64 + frames * speed)
    images = []
    for t in range(frames):
        image = background.copy()
        offset = (frames - t) * speed
        image[48:, 40:] = moving[48:, offset + 40:offset + 64]
        images.append(image)
    return _gray_clip(images)


def test_farneback_flow_and_labels_of_a_scrolling_window():
    frames = _scrolling_window_clip()
    flow = dense_flow(frames)
    assert flow.shape == (7, 64, 64, 2)
    assert 1.6 < flow[:, 52:62, 44:62, 0].mean() < 2.2  # inside the window, away from its edges
    assert np.abs(flow[:, :40, :, :]).mean() < 0.05  # the static background
    clip, mirrored = clip_statistics(frames)
    assert clip.motion[:2].tolist() == [14, 0]  # pattern 1, u: block 14, orientation bin 0 (0°)
    # mirrored: the window is in block 13 and scrolls left, u rises from −2 to 0 at its right edge: again 0°
    assert mirrored.motion[:2].tolist() == [13, 0]


def test_labels_survive_an_mp4_round_trip(tmp_path):
    frames = _scrolling_window_clip()
    write_mp4(frames, tmp_path / "window.mp4", fps=8.0, crf=10)
    with open_video(tmp_path / "window.mp4") as reader:
        decoded = reader.read(list(range(8)))
    assert np.abs(decoded.astype(int) - frames).mean() < 3  # lossy, but close
    clip, mirrored = clip_statistics(decoded)
    assert clip.motion[:2].tolist() == [14, 0] and mirrored.motion[:2].tolist() == [13, 0]


def test_motion_boundaries_vanish_when_the_whole_frame_translates():
    rng = np.random.default_rng(1)
    scene = _texture(rng, 64, 64 + 16)
    frames = _gray_clip([scene[:, 16 - 2 * t:80 - 2 * t] for t in range(8)])  # everything moves right 2 px/frame
    flow = dense_flow(frames)
    assert abs(flow[:, 8:-8, 8:-8, 0].mean() - 2.0) < 0.05
    interior = summarize_motion(flow).magnitude_u[8:-8, 8:-8]  # the borders see content enter and leave
    window = summarize_motion(dense_flow(_scrolling_window_clip())).magnitude_u
    assert interior.mean() < 0.01 < 0.1 < window.mean()


# --- appearance labels -----------------------------------------------------------------------------------------

BLUE, DARKER_BLUE, RED, GREEN, YELLOW = (0, 0, 200), (0, 0, 190), (200, 0, 0), (0, 200, 0), (220, 220, 0)


@pytest.mark.parametrize("pattern, diverse, static", [(1, 5, 10), (2, 3, 0), (3, 1, 6)])
def test_appearance_labels_of_a_known_colour_layout(pattern, diverse, static):
    """8 frames of 64². Region ``diverse`` is red in frames 0–4 and green in 5–7: per-channel IoU R 0, G 0, B 1 →
    1/3. Region ``static`` is yellow throughout: IoU 1. Every other region alternates between two blues: IoU R 1,
    G 1, B 0 → 2/3. So p_l = diverse with colour red (bin 4, 5 of 8 frames), p_s = static with yellow (bin 6), and
    the whole clip is mostly blue (bin 1)."""
    regions = pattern_regions(pattern, 64, 64)
    frames = np.zeros((8, 64, 64, 3), dtype=np.uint8)
    for t in range(8):
        frames[t] = BLUE if t % 2 == 0 else DARKER_BLUE
        frames[t][regions == diverse] = RED if t < 5 else GREEN
        frames[t][regions == static] = YELLOW
    labels = appearance_labels(frames)
    assert labels[4 * (pattern - 1):4 * pattern].tolist() == [diverse, 4, static, 6]
    assert labels[12] == 1
    assert len(labels) == 13


def test_labels_are_computed_at_most_128_px_on_the_short_side():
    frames = np.zeros((2, 256, 342, 3), dtype=np.uint8)
    assert label_frames(frames).shape == (2, 128, 171, 3)
    small = np.zeros((2, 64, 48, 3), dtype=np.uint8)
    assert label_frames(small) is small
    with pytest.raises(VsslError, match="uint8 RGB frames"):
        label_frames(np.zeros((2, 8, 8), dtype=np.uint8))


# --- label cache -----------------------------------------------------------------------------------------------


def _counting(monkeypatch, fail_after: int | None = None) -> list:
    """Replace the cache's clip_statistics by a counting one that raises on call ``fail_after`` + 1."""
    calls = []

    def counted(frames):
        if fail_after is not None and len(calls) == fail_after:
            raise KeyboardInterrupt
        calls.append(frames.shape)
        return clip_statistics(frames)

    monkeypatch.setattr(label_cache, "clip_statistics", counted)
    return calls


def test_labelled_positions_and_their_sampler():
    sampler = LabelledClipSampler(4, 2, None)  # span 7: starts every 7 frames
    rng = np.random.default_rng(0)
    drawn = {tuple(sampler(24, 8.0, rng)[0]) for _ in range(200)}
    assert drawn == {(0, 2, 4, 6), (7, 9, 11, 13), (14, 16, 18, 20)}  # last start 17, so 0, 7, 14
    assert sampler(5, 8.0, rng) == [[0, 2, 4, 4]]  # shorter than a clip: start 0, last frame repeats
    assert LabelledClipSampler(4, 2, 5).position_step == 5


def test_label_cache_is_written_once_and_reused(micro_manifest, tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    out = tmp_path / "labels.npz"
    path = compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, out=out, progress=False)
    assert path == out and len(calls) == 16 * 3  # 16 videos of 24 frames, starts 0, 7, 14
    stamp = out.stat().st_mtime_ns
    compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, out=out, progress=False)
    assert len(calls) == 48 and out.stat().st_mtime_ns == stamp  # nothing recomputed, nothing rewritten

    table = LabelTable.load(out, "the command")
    video = sorted(table.videos)[0]
    assert table.videos[video].starts.tolist() == [0, 7, 14]
    clip, mirrored = clip_labels(video, [7, 9, 11, 13])  # reproducible from the video and its frame indices
    motion, appearance = table.targets([video, video], [7, 7], [False, True])
    assert motion.tolist() == [clip.motion.tolist(), mirrored.motion.tolist()]
    assert appearance.tolist() == [clip.appearance.tolist(), mirrored.appearance.tolist()]
    with pytest.raises(VsslError, match="at frame 3; compute them with: the command"):
        table.targets([video], [3], [False])

    calls.clear()
    original = os.stat(video)
    os.utime(video, ns=(stamp, stamp))  # a changed file is labelled again, the others are kept
    try:
        compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, out=out, progress=False)
    finally:
        os.utime(video, ns=(original.st_atime_ns, original.st_mtime_ns))  # the fixture is shared
    assert len(calls) == 3


def test_label_cache_resumes_after_an_interruption(micro_manifest, tmp_path, monkeypatch):
    out = tmp_path / "labels.npz"
    calls = _counting(monkeypatch, fail_after=7)  # interrupted inside the third video
    with pytest.raises(KeyboardInterrupt):
        compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, out=out, progress=False)
    assert len(LabelTable.load(out, "").videos) == 2  # the finished videos were saved
    calls = _counting(monkeypatch)
    compute_statistics_labels(micro_manifest, "pretrain", clip_len=4, stride=2, out=out, progress=False)
    assert len(calls) == 48 - 2 * 3
    assert len(LabelTable.load(out, "").rows) == 48


def test_default_cache_path_names_the_settings(tmp_path):
    manifest = tmp_path / "manifest.csv"
    expected = tmp_path / "manifest.csv.statistics.pretrain.16x1.every16.npz"  # 16 frames span 16: non-overlapping
    assert default_labels_path(manifest, "pretrain", 16, 1) == expected
    assert default_labels_path(manifest, "train", 8, 2, 4).name == "manifest.csv.statistics.train.8x2.every4.npz"
