"""Temporal annotations in their official formats (fixtures written here): ActivityNet JSON (also the Gymnastics
dataset's layout) and THUMOS14's per-class files."""

import json

import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.data.formats.temporal_annotations import ground_truth, read_activitynet_json, read_thumos14
from vssl.evaluation.proposals import average_recall_at


def test_activitynet_json(tmp_path):
    path = tmp_path / "activity_net.v1-3.min.json"
    path.write_text(json.dumps({"version": "VERSION 1.3", "database": {
        "v_abc": {"duration": 120.5, "subset": "validation", "resolution": "640x360", "url": "u",
                  "annotations": [{"label": "Long jump", "segment": [10.0, 25.5]},
                                  {"label": "Long jump", "segment": [60, 70]}]},
        "v_def": {"duration_second": 30.0, "fps": 25, "subset": "training",
                  "annotations": [{"label": "Vault", "segment": [1.0, 2.0]}]},
        "v_test": {"duration": 50.0, "subset": "testing", "annotations": []}}}))
    videos = read_activitynet_json(path)
    assert videos["v_abc"].duration == 120.5 and videos["v_abc"].segments[1] == (60.0, 70.0, "Long jump")
    assert videos["v_def"].fps == 25.0 and videos["v_def"].duration == 30.0
    truth = ground_truth(videos, "validation")
    assert list(truth) == ["v_abc"] and truth["v_abc"].tolist() == [[10.0, 25.5], [60.0, 70.0]]
    proposals = {"v_abc": np.array([[10.0, 25.5, 0.9], [60.0, 70.0, 0.8]])}
    assert average_recall_at(truth, proposals, points=(1, 2)) == {1: pytest.approx(0.5), 2: pytest.approx(1.0)}


def test_thumos14_files(tmp_path):
    (tmp_path / "BaseballPitch_test.txt").write_text("video_test_0000324 29.4 32.2\nvideo_test_0000324 40.0 41.5 \n")
    (tmp_path / "CliffDiving_test.txt").write_text("video_test_0000011 1.0 4.0\n\n")
    (tmp_path / "Ambiguous_test.txt").write_text("video_test_0000011 5.0 6.0\n")
    (tmp_path / "BaseballPitch_val.txt").write_text("video_validation_0000051 67.5 75.9\n")
    videos = read_thumos14(tmp_path, "test")
    assert set(videos) == {"video_test_0000324", "video_test_0000011"}
    assert videos["video_test_0000011"].segments == [(1.0, 4.0, "CliffDiving")]  # the ambiguous one is left out
    assert ground_truth(videos)["video_test_0000324"].tolist() == [[29.4, 32.2], [40.0, 41.5]]
    assert list(read_thumos14(tmp_path, "val")) == ["video_validation_0000051"]


def test_bad_annotations_name_the_file_and_entry(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"database": {"v": {"subset": "training",
                                                  "annotations": [{"label": "x", "segment": [5, 2]}]}}}))
    with pytest.raises(VsslError, match=r"bad.json: database.v.annotations\[0\]: segment \[5.0, 2.0\]"):
        read_activitynet_json(bad)
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(VsslError, match="broken.json: not an ActivityNet annotation file"):
        read_activitynet_json(tmp_path / "broken.json")
    (tmp_path / "Golf_test.txt").write_text("video_test_1 3.0\n")
    with pytest.raises(VsslError, match=r"Golf_test.txt:1: expected 'video start end'"):
        read_thumos14(tmp_path, "test")
    with pytest.raises(VsslError, match="split 'train'"):
        read_thumos14(tmp_path, "train")
