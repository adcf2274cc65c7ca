"""Clip store: byte-exact frames, identical loader items, invalidation, unreadable videos, CLI, atomic builds."""

import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import vssl.data.clip_store as clip_store
import vssl.data.loader as loader
from vssl.data.clip_store import build_clip_store, open_clip_store, store_path_for
from vssl.data.index import build_index
from vssl.data.loader import VideoClipDataset
from vssl.data.manifest import Sample, read_manifest, write_manifest
from vssl.data.sampling import RhoClipSampler
from vssl.data.synthetic import write_mp4
from vssl.data.transforms import build_train_transform
from vssl.data.video import open_video, probe

SHAPES = [(10, 16, 16), (20, 24, 32), (13, 32, 24), (17, 16, 32)]  # (frames, height, width)


def _random_video(path, frames, height, width, seed):
    write_mp4(np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8), path, 10.0)


@pytest.fixture
def manifest(tmp_path):
    """Four random-noise videos of different sizes and lengths, split between train and test."""
    samples = []
    for i, shape in enumerate(SHAPES):
        _random_video(tmp_path / f"v{i}.mp4", *shape, seed=i)
        samples.append(Sample(str(tmp_path / f"v{i}.mp4"), "train" if i % 2 else "test", {"label": f"c{i // 2}"}))
    write_manifest(samples, tmp_path / "m.csv")
    return tmp_path / "m.csv"


def _decode(path, indices):
    with open_video(path) as reader:
        return reader.read(indices)


def test_store_is_byte_exact_against_direct_decode(manifest):
    build_clip_store(manifest, progress=False)
    store = open_clip_store(manifest)
    assert store is not None and len(store) == len(SHAPES)
    for sample, (n, h, w) in zip(read_manifest(manifest), SHAPES):
        assert store.info(sample.path) == probe(sample.path)
        every = store.read(sample.path, range(n))
        assert every.dtype == np.uint8 and every.shape == (n, h, w, 3)
        np.testing.assert_array_equal(every, _decode(sample.path, range(n)))
        shuffled = [n - 1, 0, 3, 3, 1, n - 1, 2]
        np.testing.assert_array_equal(store.read(sample.path, shuffled), _decode(sample.path, shuffled))
        for bad in (n, -1):
            with pytest.raises(IndexError, match=f"{bad}.*{sample.path}"):
                store.read(sample.path, [0, bad])


def test_loader_items_are_identical_with_the_store(manifest, monkeypatch):
    samples = read_manifest(manifest)
    build_clip_store(manifest, progress=False)
    store = open_clip_store(manifest)
    store.read(samples[0].path, [0])  # maps the frames file: pickling (for workers) must drop the mapping
    store = pickle.loads(pickle.dumps(store))
    index = build_index(samples, progress=False)
    common = (samples, index, RhoClipSampler(4, 2, 2), build_train_transform(12, (14, 18)))
    decoded = VideoClipDataset(*common, seed=3)
    stored = VideoClipDataset(*common, seed=3, store=store)
    for key in [0, 1, 2, 3, (5, 2)]:
        a = decoded[key]
        with monkeypatch.context() as patch:  # the stored dataset must not touch the video files
            patch.setattr(loader, "open_video", None)
            b = stored[key]
        assert torch.equal(a["clips"], b["clips"]) and torch.equal(a["frames"], b["frames"])


def test_changed_video_or_manifest_invalidates_the_store(manifest, capsys):
    samples = read_manifest(manifest)
    build_clip_store(manifest, progress=False)
    capsys.readouterr()
    changed = samples[2].path
    mtime_ns = os.stat(changed).st_mtime_ns
    _random_video(changed, *SHAPES[2], seed=99)
    os.utime(changed, ns=(mtime_ns + 10**9, mtime_ns + 10**9))
    assert open_clip_store(manifest) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and changed in out and "vssl data cache" in out

    build_clip_store(manifest, progress=False)
    assert open_clip_store(manifest) is not None
    write_manifest(samples[:3], manifest)
    capsys.readouterr()
    assert open_clip_store(manifest) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and str(manifest) in out

    build_clip_store(manifest, progress=False)
    os.remove(samples[0].path)
    capsys.readouterr()
    assert open_clip_store(manifest) is None
    assert f"{samples[0].path} is missing" in capsys.readouterr().out


def test_unreadable_video_is_skipped_and_listed(manifest, capsys):
    samples = read_manifest(manifest)
    corrupt = manifest.parent / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    write_manifest(samples + [Sample(str(corrupt), "train", {"label": "c1"})], manifest)
    folder = build_clip_store(manifest, progress=False)
    assert "skipped 1 unreadable video(s)" in capsys.readouterr().out
    store = open_clip_store(manifest)
    assert store is not None and len(store) == len(samples) and str(corrupt) not in store
    assert list(json.loads((folder / "index.json").read_text())["unreadable"]) == [str(corrupt)]


def test_a_manifest_named_from_another_folder_finds_the_store(manifest, monkeypatch):
    monkeypatch.chdir(manifest.parent)
    build_clip_store("m.csv", progress=False)
    monkeypatch.chdir(manifest.parent.parent)
    relative = os.path.join(manifest.parent.name, "m.csv")
    store = open_clip_store(relative)
    assert store is not None and all(s.path in store for s in read_manifest(manifest))
    assert all(s.path in store for s in read_manifest(relative))


def test_a_copied_dataset_folder_keeps_its_store(manifest, tmp_path_factory):
    """Videos are keyed relative to the manifest's folder: a copy (mtimes kept, as `cp -a`) reads its own store
    rather than silently decoding, and the frames are those of the copy."""
    build_clip_store(manifest, progress=False)
    copy = tmp_path_factory.mktemp("moved") / "dataset"
    shutil.copytree(manifest.parent, copy)
    store = open_clip_store(copy / manifest.name)
    assert store is not None
    for sample, (n, _, _) in zip(read_manifest(copy / manifest.name), SHAPES):
        assert sample.path.startswith(str(copy)) and sample.path in store
        np.testing.assert_array_equal(store.read(sample.path, range(n)), _decode(sample.path, range(n)))
    assert str(manifest.parent / "v0.mp4") not in store  # the original folder is not the copy's


def test_cli_writes_the_store(manifest):
    result = subprocess.run([sys.executable, "-m", "vssl.app.cli", "data", "cache", str(manifest), "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    folder = store_path_for(manifest)
    assert str(folder) in result.stdout and f"{len(SHAPES)} videos" in result.stdout and "MB" in result.stdout
    assert (folder / "frames.u8").is_file() and (folder / "index.json").is_file()
    assert open_clip_store(manifest) is not None


def test_interrupted_build_leaves_no_store(manifest, monkeypatch):
    calls = []

    def interrupted_open_video(path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return open_video(path)

    monkeypatch.setattr(clip_store, "open_video", interrupted_open_video)
    with pytest.raises(KeyboardInterrupt):
        build_clip_store(manifest, progress=False)
    assert sorted(p.name for p in manifest.parent.iterdir() if "clips" in p.name) == []
    assert open_clip_store(manifest) is None

    # an interrupted rebuild keeps the previous store as it was
    monkeypatch.setattr(clip_store, "open_video", open_video)
    build_clip_store(manifest, progress=False)
    calls.clear()
    monkeypatch.setattr(clip_store, "open_video", interrupted_open_video)
    with pytest.raises(KeyboardInterrupt):
        build_clip_store(manifest, progress=False)
    assert sorted(p.name for p in manifest.parent.iterdir() if "clips" in p.name) == ["m.csv.clips"]
    assert open_clip_store(manifest) is not None


def test_evaluation_reads_the_store_unless_disabled(manifest, capsys):
    from vssl.app.evaluate import EvalData, EvalDataConfig

    assert EvalData(EvalDataConfig(manifest=str(manifest)), progress=False).store is None  # no store built
    build_clip_store(manifest, progress=False)
    capsys.readouterr()
    data = EvalData(EvalDataConfig(manifest=str(manifest)), progress=False)
    assert data.store is not None and data.clips(data.test, ["label"]).store is data.store
    assert f"reading frames from clip store {store_path_for(manifest)}" in capsys.readouterr().out
    assert EvalData(EvalDataConfig(manifest=str(manifest), clip_store=False), progress=False).store is None
