"""Training loader (mp4 files) against the raw decode of exactly the frames it delivers, timed A B A B."""

# A loader round is one epoch over --batches × --batch-size videos: workers decode (no clip store), sample ρ clips and
# transform them. A decode round reads the same frames of the same videos (those the batches report) with
# open_video(...).read in as many processes as the loader has workers, nothing else. decode time / loader time near 1
# means decoding dominates. The last line is the median ratio.
#     .venv/bin/python benchmarks/loader.py [--manifest M] [--workers 2] [--batches 20] [--rounds 3]
# Without --manifest it generates the tiny synthetic benchmark in a temporary folder.

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile

import torch

from timing import interleaved_seconds, ratio_spread, spread
from vssl.data.index import build_index
from vssl.data.loader import VideoClipDataset, make_loader
from vssl.data.manifest import read_manifest
from vssl.data.sampling import RhoClipSampler
from vssl.data.synthetic import generate
from vssl.data.transforms import build_train_transform
from vssl.data.video import open_video


def decode(item: tuple[str, list[int]]) -> None:
    path, frames = item
    with open_video(path) as reader:
        reader.read(frames)


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
    parser.add_argument("--batches", type=int, default=20, help="batches per round (one epoch)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    manifest = args.manifest or generate(tempfile.mkdtemp(prefix="vssl-bench-"), "tiny", seed=0)
    videos = args.batches * args.batch_size
    samples = read_manifest(manifest, split=args.split)[:videos]
    if len(samples) < videos:
        parser.error(f"{args.split} has {len(samples)} videos, fewer than --batches × --batch-size = {videos}")
    index = build_index(samples, progress=False)
    sampler = RhoClipSampler(args.clip_len, args.stride, args.rho)
    transform = build_train_transform(args.crop, tuple(args.short_side))
    dataset = VideoClipDataset(samples, index, sampler, transform)
    loader = make_loader(dataset, args.batch_size, shuffle=True, num_workers=args.workers, drop_last=True)
    delivered: list[tuple[str, list[int]]] = []  # (path, frame indices) of every item of the last loader round

    def run_loader() -> None:
        delivered.clear()
        for batch in loader:  # the sampler stays at epoch 0: every round delivers the same clips
            delivered.extend(zip(batch["paths"], batch["frames"].flatten(1).tolist()))

    processes = max(1, args.workers)
    with multiprocessing.Pool(processes, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        def run_decode() -> None:
            pool.map(decode, delivered, chunksize=max(1, len(delivered) // (4 * processes)))

        times = interleaved_seconds({"loader": run_loader, "decode": run_decode}, args.rounds)

    frames = sum(len(f) for _, f in delivered)
    print(f"{videos} videos, {frames} frames ({args.rho} clips of {args.clip_len}, crop {args.crop}²) per round, "
          f"{args.rounds} rounds; {args.workers} loader workers, {processes} decode processes")
    print(f"loader (decode+sample+transforms) s: {spread(times['loader'])}")
    print(f"raw decode (same frames) s:          {spread(times['decode'])}")
    print(f"loader/decode ratio median [min–max]: {ratio_spread(times['decode'], times['loader'])}")
    ratios = [d / l for d, l in zip(times["decode"], times["loader"])]
    print(f"loader/decode ratio: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
