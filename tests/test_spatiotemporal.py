"""Spatio-temporal action detection with given boxes: RoIAlign and frame-mAP against hand computations, the AVA and
UCF101-24 readers on files in their official layouts, the boxes of the synthetic world, and `vssl eval st_detection`
in a real process."""

import dataclasses
import math
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vssl.app.spatiotemporal import clip_frames, keyframes_of
from vssl.core.errors import VsslError
from vssl.data.formats.spatiotemporal import (BoxAnnotations, Keyframe, LabelledBox, read_ava, read_label_map,
                                              read_ucf24, write_ava, write_ucf24_json)
from vssl.data.manifest import Sample
from vssl.data.synthetic import PRESETS
from vssl.data.synthetic_boxes import BoxesConfig, generate_boxes, plan_sprites, render_boxes_video, sprite_box
from vssl.data.synthetic_untrimmed import video_streams
from vssl.data.video import VideoInfo
from vssl.evaluation.frame_map import frame_map
from vssl.evaluation.roi_head import RoIHead, box_loss, pool_boxes, roi_align

# ---------------------------------------------------------------------------------------------------------------
# RoIAlign (aligned: box coordinates − 0.5 are pixel-centre coordinates; bilinear samples clamped to the edge pixels)


def one_map(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)[None, None]


def align(features, box, size=1, ratio=0, image=0) -> torch.Tensor:
    return roi_align(features, torch.tensor([box], dtype=torch.float32), torch.tensor([image]), size, ratio)[0, 0]


def test_roi_align_samples_bilinearly_at_the_bin_centres():
    delta = one_map([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    # box [0.5, 0.5, 2.5, 2.0] → [0, 0, 2, 1.5]: one sample at (x, y) = (1, 0.75): row 1 weighs 0.75, column 1 weighs 1
    assert align(delta, [0.5, 0.5, 2.5, 2.0], ratio=1).item() == pytest.approx(0.75)
    # 2×2 bins of box [0, 0, 2, 2] → [−0.5, −0.5, 1.5, 1.5], one sample each at x, y ∈ {0, 1}
    torch.testing.assert_close(align(delta, [0, 0, 2, 2], size=2, ratio=1), torch.tensor([[0.0, 0.0], [0.0, 1.0]]),
                               atol=1e-6, rtol=0)


def test_roi_align_grid_per_bin_adaptive_or_given():
    squares = one_map([[x * x + 7 for x in range(4)]] * 2)  # f(x) = x² + 7 at the pixel centres of each row
    # box [0, 0, 3, 1] → [−0.5, −0.5, 2.5, 0.5]; adaptive: ceil(3 / 1) = 3 columns at x = 0, 1, 2: (7 + 8 + 11) / 3
    assert align(squares, [0, 0, 3, 1]).item() == pytest.approx(26 / 3)
    # 2 columns at x = 0.25 and 1.75: (7.25 + 10.25) / 2 by linear interpolation between the pixel centres
    assert align(squares, [0, 0, 3, 1], ratio=2).item() == pytest.approx(8.75)


def test_roi_align_clamps_to_the_edge_within_one_pixel_and_zeroes_beyond():
    squares = one_map([[x * x + 7 for x in range(4)]] * 2)
    assert align(squares, [-1, 0, 0, 1], ratio=1).item() == pytest.approx(7.0)  # x = −1: the edge pixel's value
    assert align(squares, [-3, 0, -1, 1], ratio=1).item() == 0.0  # x = −2.5: outside
    two = torch.cat([squares, squares + 100])
    assert align(two, [0, 0, 3, 1], image=1).item() == pytest.approx(26 / 3 + 100)  # the box's own map


def test_box_pooling_averages_time_then_takes_the_bin_maximum():
    maps = torch.zeros(1, 2, 2, 4, 4)
    maps[0, 0, 1, 1, 2] = 4.0  # one hot pixel in the second frame of channel 0: its time average is 2
    maps[0, 1] = 3.0
    boxes = torch.tensor([[0.25, 0.0, 1.0, 0.75], [0.0, 0.5, 0.25, 1.0]])  # in fractions of the 4×4 map
    pooled = pool_boxes(maps, boxes, torch.tensor([0, 0]), resolution=7)
    assert pooled[:, 1].tolist() == [3.0, 3.0]
    # box 0 spans map x 1-4, y 0-3: its middle bin's one sample lands on the pixel's centre (2, 1); box 1 misses it
    assert pooled[0, 0].item() == pytest.approx(2.0) and pooled[1, 0].item() == 0.0
    head = RoIHead(2, 3, resolution=7, dropout=0.0)
    logits = head(maps, boxes, torch.tensor([0, 0]))
    assert logits.shape == (2, 3)
    targets = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    assert box_loss(logits, targets, True).item() == pytest.approx(
        torch.nn.functional.binary_cross_entropy_with_logits(logits, targets).item())
    assert box_loss(logits, targets[1:].repeat(2, 1), False).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, torch.tensor([1, 1])).item())


# ---------------------------------------------------------------------------------------------------------------
# frame-mAP


A, B = [0.0, 0.0, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9]


def test_duplicate_detection_of_a_matched_box_is_a_false_positive():
    """Ranks: A (TP), A again (FP), B (TP): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1. All-point AP (AVA, VOC
    2010+): 1/2 · 1 + 1/2 · 2/3 = 5/6; VOC 2007's 11-point average would give (6 + 5 · 2/3) / 11 = 0.848."""
    truth = [("k", 0, A), ("k", 0, B)]
    mean, per_class = frame_map(truth, [("k", 0, A, 0.9), ("k", 0, A, 0.8), ("k", 0, B, 0.7)], 1)
    assert mean == pytest.approx(5 / 6) and per_class == [pytest.approx(5 / 6)]


def test_classes_without_positives_are_left_out_and_missed_classes_score_zero():
    truth = [("k", 0, A), ("k", 0, B), ("k", 2, A)]
    detections = [("k", 0, A, 0.9), ("k", 0, A, 0.8), ("k", 0, B, 0.7), ("k", 1, A, 0.99)]
    mean, per_class = frame_map(truth, detections, 3)
    assert math.isnan(per_class[1]) and per_class[2] == 0.0
    assert mean == pytest.approx((5 / 6 + 0.0) / 2)
    assert frame_map(truth, [], 3)[0] == 0.0  # no detections at all


def test_matching_needs_iou_of_one_half_on_the_same_keyframe_and_goes_to_the_best_overlap():
    truth = [("k", 0, [0.0, 0.0, 1.0, 1.0])]
    assert frame_map(truth, [("k", 0, [0.0, 0.0, 1.0, 0.5], 1.0)], 1)[0] == 1.0  # IoU exactly 0.5
    assert frame_map(truth, [("k", 0, [0.0, 0.0, 1.0, 0.4], 1.0)], 1)[0] == 0.0  # IoU 0.4
    assert frame_map(truth, [("other", 0, [0.0, 0.0, 1.0, 1.0], 1.0)], 1)[0] == 0.0  # another keyframe
    # the second detection overlaps the matched C most (0.9) and D by 2/3: as in VOC and AVA it is a false positive
    c, d = [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.6]
    detections = [("k", 0, c, 0.9), ("k", 0, [0.0, 0.0, 1.0, 0.9], 0.8), ("k", 0, d, 0.7)]
    assert frame_map([("k", 0, c), ("k", 0, d)], detections, 1)[0] == pytest.approx(5 / 6)


# ---------------------------------------------------------------------------------------------------------------
# AVA and UCF101-24 files

LABEL_MAP = """label {
  name: "bend/bow (at the waist)"
  label_id: 1
  label_type: PERSON_MOVEMENT
}
label {
  name: "carry/hold (an object)"
  label_id: 14
  label_type: OBJECT_MANIPULATION
}
label {
  name: "watch (a person)"
  label_id: 80
  label_type: PERSON_INTERACTION
}
"""
AVA_CSV = """-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1
-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,14,1
-5KQ66BBWC4,0902,0.332,0.194,0.481,0.891,12,0
-5KQ66BBWC4,0903,0.332,0.194,0.481,0.891,1,0
1j20qq1JyX4,1798,0.5,0.5,0.75,1.0,1
"""


def test_ava_csv_and_label_map_in_both_official_forms(tmp_path):
    (tmp_path / "map.pbtxt").write_text(LABEL_MAP)
    (tmp_path / "ava.csv").write_text(AVA_CSV)
    assert read_label_map(tmp_path / "map.pbtxt") == {1: "bend/bow (at the waist)", 14: "carry/hold (an object)",
                                                      80: "watch (a person)"}
    (tmp_path / "activitynet.pbtxt").write_text('item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\n'
                                                'item { name: "watch (a person)" id: 80 }\n')
    assert read_label_map(tmp_path / "activitynet.pbtxt") == {1: "bend/bow (at the waist)", 80: "watch (a person)"}
    annotations = read_ava([tmp_path / "ava.csv"], tmp_path / "map.pbtxt")
    assert annotations.classes == ["bend/bow (at the waist)", "carry/hold (an object)", "watch (a person)"]
    got = {(k.video, k.time): [(b.box, b.labels, b.person) for b in k.boxes] for k in annotations.keyframes}
    assert got == {("-5KQ66BBWC4", 902.0): [((0.077, 0.151, 0.283, 0.811), (1, 2), 1)],  # action 12 is not mapped
                   ("-5KQ66BBWC4", 903.0): [((0.332, 0.194, 0.481, 0.891), (0,), 0)],
                   ("1j20qq1JyX4", 1798.0): [((0.5, 0.5, 0.75, 1.0), (0,), -1)]}  # 7 columns: no person id
    write_ava(tmp_path / "again.csv", tmp_path / "again.pbtxt", annotations)
    again = read_ava([tmp_path / "again.csv"], tmp_path / "again.pbtxt")
    assert again.classes == annotations.classes
    assert {(k.video, k.time): [(b.box, b.labels, b.person) for b in k.boxes] for k in again.keyframes} == got


@pytest.mark.parametrize("row, problem", [("vid,0902,0.5,0.2,0.4,0.9,1,0", "0 <= x1 < x2 <= 1"),
                                          ("vid,0902,0.1,0.2,0.4,1.2,1,0", "0 <= x1 < x2 <= 1"),
                                          ("vid,09o2,0.1,0.2,0.4,0.9,1,0", "must be numbers"),
                                          ("vid,0902,0.1,0.2,0.4,0.9", "expected 7 or 8 columns")])
def test_a_malformed_ava_row_is_one_line_naming_file_and_line(tmp_path, row, problem):
    (tmp_path / "map.pbtxt").write_text(LABEL_MAP)
    (tmp_path / "ava.csv").write_text(AVA_CSV.splitlines()[0] + "\n" + row + "\n")
    with pytest.raises(VsslError) as error:
        read_ava([tmp_path / "ava.csv"], tmp_path / "map.pbtxt")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'ava.csv'}:2: ") and problem in message and "\n" not in message


def test_a_malformed_label_map_names_its_line(tmp_path):
    (tmp_path / "map.pbtxt").write_text('label {\n  name: "stand"\n  label_id: 11\n}\nlabel {\n  name: "sit"\n}\n')
    with pytest.raises(VsslError, match=r"map\.pbtxt:5: a label needs an integer 'label_id'"):
        read_label_map(tmp_path / "map.pbtxt")


def ucf_video(numpy: bool) -> dict:
    """Basketball/v_Basketball_g01_c01 with 6 frames: tube 0 on frames 1-3, tube 1 on frames 2-4 (sf/ef 0-based,
    ef exclusive), boxes (x, y, w, h) in 1-based pixels of 320×240."""
    first = [[33, 25, 64, 48], [34, 25, 64, 48], [35, 25, 64, 48]]
    second = [[161, 121, 160, 120], [161, 121, 160, 120], [161, 121, 160, 120]]
    if numpy:
        return {"label": 0, "numf": np.uint32(6), "annotations": [
            {"label": 0, "sf": 1, "ef": 4, "boxes": np.array(first, dtype=np.int32)},
            {"label": 0, "sf": 2, "ef": 5, "boxes": np.array(second, dtype=np.int32)}]}
    return {"label": 0, "numf": 6, "annotations": [{"label": 0, "sf": 1, "ef": 4, "boxes": first},
                                                   {"label": 0, "sf": 2, "ef": 5, "boxes": second}]}


def test_ucf24_json_and_pickle_give_each_tube_frame_its_box(tmp_path):
    write_ucf24_json(tmp_path / "ucf24.json", {"Basketball/v_Basketball_g01_c01": ucf_video(numpy=False)})
    (tmp_path / "pyannot.pkl").write_bytes(pickle.dumps({"Basketball/v_Basketball_g01_c01": ucf_video(numpy=True)},
                                                        protocol=2))
    for name in ("ucf24.json", "pyannot.pkl"):
        annotations = read_ucf24(tmp_path / name)
        assert annotations.classes[0] == "Basketball" and len(annotations.classes) == 24
        frames = {k.frame: k.boxes for k in annotations.keyframes}
        assert sorted(frames) == [1, 2, 3, 4]
        assert frames[1] == [LabelledBox((0.1, 0.1, 0.3, 0.3), (0,), 0)]  # (33 − 1) / 320, (25 − 1) / 240, ...
        assert [b.person for b in frames[2]] == [0, 1] and frames[4][0].box == (0.5, 0.5, 1.0, 1.0)


def test_a_malformed_ucf24_tube_names_its_key(tmp_path):
    video = ucf_video(numpy=False)
    video["annotations"][1]["boxes"] = video["annotations"][1]["boxes"][:2]
    write_ucf24_json(tmp_path / "ucf24.json", {"Basketball/v_Basketball_g01_c01": video})
    with pytest.raises(VsslError) as error:
        read_ucf24(tmp_path / "ucf24.json")
    assert str(error.value) == (f"{tmp_path / 'ucf24.json'}: db.Basketball/v_Basketball_g01_c01.annotations[1].boxes: "
                                "expected shape (3, 4) for sf=2 ef=5, got (2, 4)")


class Touch:
    """A pickle that, when loaded by a plain unpickler, creates a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_the_pickle_reader_refuses_anything_but_containers_and_arrays(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"Basketball/v": {"numf": Touch(marker)}}))
    with pytest.raises(VsslError, match=r"evil\.pkl: not read \(refused global 'pathlib.*'\)"):
        read_ucf24(tmp_path / "evil.pkl")
    assert not marker.exists()
    pickle.loads((tmp_path / "evil.pkl").read_bytes())  # the plain unpickler would have run it
    assert marker.exists()


# ---------------------------------------------------------------------------------------------------------------
# Keyframe clips and the synthetic world's boxes


def test_keyframe_clips_are_centred_and_clamped_and_ava_times_map_to_frames():
    assert clip_frames(16, 8, 2, 48) == [8, 10, 12, 14, 16, 18, 20, 22]  # PySlowFast get_sequence
    assert clip_frames(1, 8, 2, 48) == [0, 0, 0, 0, 1, 3, 5, 7]
    assert clip_frames(46, 4, 2, 48) == [42, 44, 46, 47]
    data = SimpleNamespace(index={"/v/-5KQ66BBWC4.mkv": VideoInfo(num_frames=27030, fps=30.0, width=4, height=4)})
    annotations = BoxAnnotations(["a", "b"], [Keyframe("-5KQ66BBWC4", [LabelledBox((0, 0, 1, 1), (1,))], time=902.0)])
    items = keyframes_of([Sample("/v/-5KQ66BBWC4.mkv", "train")], annotations, data, 900.0)
    assert [item.frame for item in items] == [60] and items[0].targets.tolist() == [[0.0, 1.0]]
    with pytest.raises(VsslError, match=r"-5KQ66BBWC4\.mkv: the keyframe at 902 s is frame 27060, outside its "
                                        r"27030 frames \(check st_detection.time_offset\)"):
        keyframes_of([Sample("/v/-5KQ66BBWC4.mkv", "train")], annotations, data, 0.0)


def test_synthetic_boxes_hold_their_sprites():
    """The same video rendered with and without its sprites (the background has its own random stream): each box's
    pixels change where its sprite is painted, on all four edges of the box."""
    config = BoxesConfig(name="check")
    world = dataclasses.replace(PRESETS["world32"], sprite_radius=config.sprite_radius)
    boxes = 0
    for index in range(6):
        plan_rng, background, sprites = video_streams(0, "train", index)
        frames, tracks = render_boxes_video(world, plan_sprites(config, world, plan_rng), background, sprites)
        _, background, sprites = video_streams(0, "train", index)
        empty, _ = render_boxes_video(world, [], background, sprites)
        changed = np.abs(frames.astype(int) - empty.astype(int)).max(axis=-1) > 4  # the backgrounds are identical
        for track in tracks:
            for frame in (16, 32):
                box = sprite_box(track, frame, world.size)
                if box is None:  # slid out of view
                    continue
                x1, y1, x2, y2 = (round(v * world.size) for v in box)
                inside = changed[frame, y1:y2, x1:x2]
                assert inside.mean() > 0.3 and (x2 - x1) * (y2 - y1) < world.size ** 2 / 2
                assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
                boxes += 1
    assert boxes >= 12


# ---------------------------------------------------------------------------------------------------------------
# `vssl eval st_detection`


@pytest.fixture(scope="module")
def boxes_manifest(tmp_path_factory):
    return generate_boxes(tmp_path_factory.mktemp("boxes"), BoxesConfig(name="micro", counts={"train": 10,
                                                                                               "test": 6}),
                          progress=False)


TINY = ["data.num_workers=0", "encoder.width=0.125", "data.clip_len=4", "progress=false", "feature_cache=none"]


def test_vssl_eval_st_detection_stores_a_frame_map(boxes_manifest, tmp_path):
    store = tmp_path / "results.sqlite"
    done = subprocess.run([sys.executable, "-m", "vssl.app.cli", "eval", "st_detection", "synthetic_st_detection",
                           f"data.manifest={boxes_manifest}", "st_detection.epochs=3", f"store={store}", *TINY],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(store) as db:
        rows = db.execute("select protocol, label, metric, value, n_videos from results").fetchall()
    assert len(rows) == 1 and rows[0][:3] == ("st_detection", "action", "frame_map@0.5")
    assert 0.0 <= rows[0][3] <= 100.0 and math.isfinite(rows[0][3]) and rows[0][4] == 6


def test_evaluate_fine_tunes_the_backbone_with_sigmoid_boxes(boxes_manifest, tmp_path):
    import vssl

    results = vssl.evaluate("random", boxes_manifest, ("st_detection",), device="cpu", preset="synthetic_st_detection",
                            store=str(tmp_path / "r.sqlite"), data__num_workers=0, encoder__width=0.125,
                            data__clip_len=4, progress=False, st_detection__finetune=True,
                            st_detection__multi_label=True, st_detection__epochs=1, st_detection__batch_size=4)
    assert [(r.protocol, r.metric) for r in results] == [("st_detection", "frame_map@0.5")]
    assert 0.0 <= results[0].value <= 100.0
