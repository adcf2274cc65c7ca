"""Training data path throughput: loader clips/s (decode + sample + transforms, with workers) vs. raw decode.

Both rates are measured in the same run on the same videos and frame indices, and their ratio printed:
a ratio near 1 means decoding dominates; far below 1 means sampling/transforms/worker overhead dominates.

    .venv/bin/python benchmarks/loader.py [--manifest M] [--workers 2] [--batches 20]
Without --manifest it generates the tiny synthetic benchmark in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from vssl.data.index import build_index
from vssl.data.loader import VideoClipDataset, make_loader
from vssl.data.manifest import read_manifest
from vssl.data.sampling import RhoClipSampler
from vssl.data.synthetic import generate
from vssl.data.transforms import build_train_transform
from vssl.data.video import open_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", help="manifest to read (default: a freshly generated tiny synthetic set)")
    parser.add_argument("--split", default="pretrain")
    parser.add_argument("--clip-len", type=int, default=8)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--crop", type=int, default=56)
    parser.add_argument("--short-side", type=int, nargs=2, default=(60, 72))
    parser.add_argument("--rho", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    manifest = args.manifest or generate(tempfile.mkdtemp(prefix="vssl-bench-"), "tiny", seed=0)
    samples = read_manifest(manifest, split=args.split)
    index = build_index(samples, progress=False)
    sampler = RhoClipSampler(args.clip_len, args.stride, args.rho)
    transform = build_train_transform(args.crop, tuple(args.short_side))
    dataset = VideoClipDataset(samples, index, sampler, transform)
    loader = make_loader(dataset, args.batch_size, shuffle=True, num_workers=args.workers, drop_last=True)

    iterator = iter(loader)
    next(iterator)  # start the workers before timing
    clips, start = 0, time.perf_counter()
    for _ in range(args.batches):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        clips += batch["clips"].shape[0] * batch["clips"].shape[1]
    loader_rate = clips / (time.perf_counter() - start)

    # raw decode of the same amount of work: the same kind of frame indices, no transforms, one process
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    decoded, start = 0, time.perf_counter()
    for i in range(clips // args.rho):
        sample = samples[i % len(samples)]
        info = index[sample.path]
        indices = [j for clip in sampler(info.num_frames, info.fps, rng) for j in clip]
        with open_video(sample.path) as reader:
            reader.read(indices)
        decoded += args.rho
    decode_rate = decoded / (time.perf_counter() - start)

    print(f"loader (decode+sample+transforms, {args.workers} workers): {loader_rate:8.1f} clips/s")
    print(f"raw decode (1 process, same clips):              {decode_rate:8.1f} clips/s")
    print(f"ratio loader / raw decode:                        {loader_rate / decode_rate:8.2f}")


if __name__ == "__main__":
    main()
