"""Manifests: CSV/JSONL round trips, relative paths, errors naming file and line; the metadata index."""

import json

import numpy as np
import pytest

from vssl.core.errors import VsslError
from vssl.data.index import build_index
from vssl.data.manifest import Sample, class_names, read_manifest, write_manifest
from vssl.data.synthetic import write_mp4


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_round_trip(tmp_path, suffix):
    samples = [Sample(str(tmp_path / "videos" / "a.mp4"), "train", {"motion": "circular", "appearance": "disk"}),
               Sample(str(tmp_path / "b.mp4"), "test", {"motion": "vertical", "appearance": "square"}, 1.5, 4.0)]
    write_manifest(samples, tmp_path / f"m{suffix}")
    assert read_manifest(tmp_path / f"m{suffix}") == samples
    assert read_manifest(tmp_path / f"m{suffix}", split="test") == samples[1:]
    if suffix == ".csv":  # paths inside the folder are stored relative, so datasets can move
        assert "videos/a.mp4" in (tmp_path / "m.csv").read_text()
    assert class_names(samples, "motion") == ["circular", "vertical"]


def test_errors_name_file_and_line(tmp_path):
    (tmp_path / "bad.csv").write_text("path,split,start\na.mp4,train,\nb.mp4,train,soon\n")
    with pytest.raises(VsslError, match=r"bad\.csv:3: column 'start'.*'soon'"):
        read_manifest(tmp_path / "bad.csv")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"path": "a.mp4"}) + "\n{oops\n")
    with pytest.raises(VsslError, match=r"bad\.jsonl:2: invalid JSON"):
        read_manifest(tmp_path / "bad.jsonl")
    (tmp_path / "nopath.csv").write_text("file,label\na.mp4,x\n")
    with pytest.raises(VsslError, match="needs a 'path' column"):
        read_manifest(tmp_path / "nopath.csv")
    with pytest.raises(VsslError, match="missing.csv"):
        read_manifest(tmp_path / "missing.csv")
    with pytest.raises(VsslError, match="no label 'motion'"):
        class_names([Sample("x.mp4", labels={"label": "a"})], "motion")


def test_index_caches_and_records_unreadable(tmp_path):
    frames = np.zeros((10, 32, 32, 3), dtype=np.uint8)
    write_mp4(frames, tmp_path / "good.mp4", fps=5.0)
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all")
    samples = [Sample(str(tmp_path / "good.mp4")), Sample(str(tmp_path / "bad.mp4"))]
    cache = tmp_path / "m.csv.index.json"
    index = build_index(samples, cache, progress=False)
    assert index[str(tmp_path / "good.mp4")].num_frames == 10
    assert index[str(tmp_path / "good.mp4")].fps == pytest.approx(5.0)
    assert list(index.errors) == [str(tmp_path / "bad.mp4")] and "bad.mp4" in index.errors[str(tmp_path / "bad.mp4")]
    stored = json.loads(cache.read_text())
    assert stored[str(tmp_path / "good.mp4")]["info"]["num_frames"] == 10
    # a cached entry is trusted while the file is unchanged (probe is not called again) ...
    stored[str(tmp_path / "good.mp4")]["info"]["num_frames"] = 99
    cache.write_text(json.dumps(stored))
    assert build_index(samples, cache, progress=False)[str(tmp_path / "good.mp4")].num_frames == 99
    # ... and re-probed once the file changes
    write_mp4(np.zeros((12, 32, 32, 3), dtype=np.uint8), tmp_path / "good.mp4", fps=5.0)
    import os
    os.utime(tmp_path / "good.mp4", (1, 1))
    assert build_index(samples, cache, progress=False)[str(tmp_path / "good.mp4")].num_frames == 12
    # indexing another subset of the manifest keeps the entries already cached
    build_index(samples[1:], cache, progress=False)
    assert set(json.loads(cache.read_text())) == {str(tmp_path / "good.mp4"), str(tmp_path / "bad.mp4")}
