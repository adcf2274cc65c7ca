"""Loader: exact segment frames, ρ views, corrupt videos skipped and counted instead of crashing."""

import pickle

import numpy as np
import torch

from vssl.data.index import build_index
from vssl.data.loader import ResumableLoader, VideoClipDataset, make_loader, segment_frames
from vssl.data.manifest import Sample
from vssl.data.sampling import RhoClipSampler, UniformClipSampler
from vssl.data.synthetic import write_mp4
from vssl.data.transforms import CenterCrop, Compose, build_train_transform


def _numbered_video(path, num_frames=40, fps=10.0):
    """Flat grey frames whose brightness encodes the frame number (5 levels per frame)."""
    frames = np.repeat(np.arange(num_frames, dtype=np.uint8)[:, None, None, None] * 5, 32 * 32 * 3)
    write_mp4(frames.reshape(num_frames, 32, 32, 3), path, fps)


def test_segment_frames_from_seconds():
    assert segment_frames(Sample("x", start=1.0, end=2.5), fps=10.0, num_frames=40) == (10, 15)
    assert segment_frames(Sample("x"), fps=10.0, num_frames=40) == (0, 40)
    assert segment_frames(Sample("x", start=3.0, end=9.0), fps=10.0, num_frames=40) == (30, 10)


def test_segment_clip_reads_the_right_frames(tmp_path):
    _numbered_video(tmp_path / "v.mp4")
    samples = [Sample(str(tmp_path / "v.mp4"), labels={"label": "a"}, start=1.0, end=3.0)]
    index = build_index(samples, progress=False)
    # one clip of 4 frames at stride 3, centred in the 20-frame segment [10, 30): starts at (20-10)//2 = 5 → 15
    dataset = VideoClipDataset(samples, index, UniformClipSampler(4, 3, 1), Compose([]), ["label"], {"label": ["a"]})
    clip = dataset[0]["clips"][0]  # [C, T, H, W] in [0, 1]
    brightness = (clip.mean(dim=(0, 2, 3)) * 255 / 5).round().tolist()
    assert brightness == [15, 18, 21, 24]


def test_rho_one_gives_two_views_of_one_instant(micro_manifest):
    from vssl.data.manifest import read_manifest
    samples = read_manifest(micro_manifest, "pretrain")[:2]
    index = build_index(samples, progress=False)
    flip_only = Compose([CenterCrop(24)])
    dataset = VideoClipDataset(samples, index, RhoClipSampler(4, 2, 1), flip_only, repeat=2)
    clips = dataset[0]["clips"]
    assert clips.shape == (2, 3, 4, 24, 24)
    assert torch.equal(clips[0], clips[1])  # same frames, deterministic transform → identical views
    dataset = VideoClipDataset(samples, index, RhoClipSampler(4, 2, 3), build_train_transform(24, 28))
    assert dataset[1]["clips"].shape == (3, 3, 4, 24, 24)


def test_corrupt_video_is_skipped_and_counted(tmp_path, micro_manifest):
    from vssl.data.manifest import read_manifest
    samples = read_manifest(micro_manifest, "train")[:5]
    good = samples[0].path
    truncated = tmp_path / "truncated.mp4"
    data = open(good, "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 1000)
    samples += [Sample(str(truncated), labels=samples[0].labels), Sample(str(garbage), labels=samples[0].labels)]
    index = build_index(samples, progress=False)
    dataset = VideoClipDataset(samples, index, UniformClipSampler(4, 2, 2), build_train_transform(24, 28),
                               ["motion"], {"motion": ["horizontal", "vertical"]})
    assert sorted(dataset.unreadable) == sorted([str(truncated), str(garbage)])  # found by the index
    # a file that breaks after indexing is skipped at read time, not a crashed epoch
    dataset.samples.append(Sample(str(garbage), labels=samples[0].labels))
    dataset.index.infos[str(garbage)] = dataset.index[good]
    batches = list(make_loader(dataset, batch_size=3, shuffle=False, num_workers=0))
    assert sum(b["clips"].shape[0] for b in batches) == 5
    assert [p for b in batches for p in b["skipped"]] == [str(garbage)]
    assert batches[0]["clips"].shape == (3, 2, 3, 4, 24, 24) and batches[0]["labels"].shape == (3, 1)


def test_a_resumable_loader_pickles_its_generator_as_bytes():
    """`ddp_spawn` pickles the loader into new processes: the worker-seed generator must arrive with the same state
    and without a tensor shared through a file descriptor."""
    loader = make_loader(list(range(8)), batch_size=2, shuffle=True, num_workers=0, seed=3, resumable=True)
    assert isinstance(loader, ResumableLoader)
    state = loader.__getstate__()
    assert "generator" not in state and isinstance(state["generator_state"], bytes)
    copy = pickle.loads(pickle.dumps(loader))
    expected = torch.randint(0, 2**31, (4,), generator=loader.generator)
    assert torch.equal(torch.randint(0, 2**31, (4,), generator=copy.generator), expected)
