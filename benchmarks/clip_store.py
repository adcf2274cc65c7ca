"""Pre-training throughput: model-only clips/s vs. end-to-end clips/s reading the clip store or the mp4 files.

In one run, on a synthetic dataset generated in a temporary folder, with the data, backbone and batch of a
pre-training preset (default: rho_simclr_world32, the demo's) and the same batch of clips per step:
  (a) backbone forward+backward on random input tensors (the ceiling);
  (b) the same steps fed by a DataLoader over VideoClipDataset with ρSimCLR's sampler and transform, reading frames
      from the clip store (`vssl data cache`);
  (c) the same, decoding the mp4 files.
(b)/(a) near 1 means the data path keeps up with the model. The loaders alone (no model) are timed too, to show
which side limits an end-to-end rate. After ``--warmup`` untimed steps each, the five settings take turns
((a) (b) (c) loaders, (a) (b) ...; `benchmarks/timing.py`) for ``--rounds`` rounds of ``--steps`` steps; a loader's
turn first takes, untimed, the batches its workers prefetched while the others ran. Rates and the per-round ratios
(b)/(a), (c)/(a) are printed as median [min–max] over the rounds.

    .venv/bin/python benchmarks/clip_store.py [--preset world32] [--recipe rho_simclr_world32] [--workers 1]
        [--steps 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from collections.abc import Callable, Iterator

import numpy as np
import torch

from timing import interleaved_seconds, ratio_spread, spread
from vssl.app.pretrain import PretrainConfig, encoder_spec, resolve_method
from vssl.core.config import load_config
from vssl.core.runtime import share_cpu_with_workers
from vssl.data.clip_store import build_clip_store, open_clip_store
from vssl.data.index import build_index
from vssl.data.loader import VideoClipDataset, make_loader
from vssl.data.manifest import read_manifest
from vssl.data.synthetic import generate


def batches(loader, clips_per_step: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Endless [clips_per_step, C, T, H, W] batches, epoch after epoch."""
    epoch = 0
    while True:
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            yield batch["clips"].flatten(0, 1)[:clips_per_step].to(device, non_blocking=True)
        epoch += 1


class Turn:
    """One setting's turn: ``steps`` timed steps through ``step``, after taking ``prefetched`` batches untimed."""

    def __init__(self, step: Callable[[torch.Tensor], None], inputs: Iterator[torch.Tensor], steps: int,
                 prefetched: int, device: torch.device):
        self.step, self.inputs, self.steps, self.prefetched, self.device = step, inputs, steps, prefetched, device
        self.rates: list[float] = []  # clips/s of every turn

    def warm_up(self, steps: int) -> None:
        for _ in range(steps):
            self.step(next(self.inputs))
        self.rates.clear()

    def __call__(self) -> None:
        for _ in range(self.prefetched):  # ready since the last turn: they would time as free
            next(self.inputs)
        self.synchronize()
        clips, start = 0, time.perf_counter()
        for _ in range(self.steps):
            x = next(self.inputs)
            self.step(x)
            clips += x.shape[0]
        self.synchronize()
        self.rates.append(clips / (time.perf_counter() - start))

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="world32", help="synthetic preset to generate (default: world32)")
    parser.add_argument("--recipe", default="rho_simclr_world32",
                        help="pre-training preset whose data, model and batch are measured (default: rho_simclr_world32)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per setting and round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (at least 3)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the recipe's)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vssl-clip-store-") as folder:
        run(args, folder)


def run(args: argparse.Namespace, folder: str) -> None:
    """Generate the dataset in ``folder``, build its clip store, measure and print the rates."""
    device = torch.device(args.device)
    recipe = load_config(PretrainConfig, args.recipe, "pretrain", [])
    workers = recipe.data.num_workers if args.workers is None else args.workers
    share_cpu_with_workers(workers)  # as `vssl pretrain` does
    start = time.perf_counter()
    manifest = generate(folder, preset=args.preset, seed=0, progress=False)
    samples = read_manifest(manifest, split="pretrain")
    print(f"generated {args.preset}: {len(samples)} pre-training videos in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    build_clip_store(manifest, samples, progress=False)
    print(f"built the clip store in {time.perf_counter() - start:.1f} s")
    store = open_clip_store(manifest)

    _, method_class, method_config = resolve_method(recipe)
    data = replace(recipe.data, manifest=str(manifest))
    index = build_index(samples, progress=False)
    first = index[samples[0].path]
    sampled = method_class.build_sampler(method_config, data)(first.num_frames, first.fps, np.random.default_rng(0))
    clips_per_video = len(sampled) * method_class.views_per_clip(method_config)
    videos_per_step = recipe.train.batch_size
    clips_per_step = videos_per_step * clips_per_video
    frames, size = data.clip_len, data.crop_size

    def loader(clip_store):
        dataset = VideoClipDataset(samples, index, method_class.build_sampler(method_config, data),
                                   method_class.build_transform(method_config, data),
                                   repeat=method_class.views_per_clip(method_config), store=clip_store)
        return make_loader(dataset, videos_per_step, shuffle=True, num_workers=workers, drop_last=True)

    model = encoder_spec(recipe).build().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def train_step(x: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
        optimizer.step()

    def random_inputs() -> Iterator[torch.Tensor]:
        x = torch.rand(clips_per_step, 3, frames, size, size, device=device)
        while True:
            yield x

    prefetched = 2 * workers  # the DataLoader's default prefetch_factor per worker
    turns = {"model": Turn(train_step, random_inputs(), args.steps, 0, device),
             "store": Turn(train_step, batches(loader(store), clips_per_step, device), args.steps, prefetched, device),
             "files": Turn(train_step, batches(loader(None), clips_per_step, device), args.steps, prefetched, device),
             "store loader only": Turn(lambda x: None, batches(loader(store), clips_per_step, device), args.steps,
                                       prefetched, device),
             "files loader only": Turn(lambda x: None, batches(loader(None), clips_per_step, device), args.steps,
                                       prefetched, device)}
    for turn in turns.values():
        turn.warm_up(args.warmup)
    interleaved_seconds(turns, args.rounds, warmup=False)  # the turns time themselves, without the prefetched batches
    rates = {name: turn.rates for name, turn in turns.items()}
    print(f"{args.recipe}: batch of {clips_per_step} clips [3, {frames}, {size}, {size}] on {device}, "
          f"{torch.get_num_threads()} compute thread(s), {workers} loader worker(s)")
    print(f"clips/s and ratios: median [min–max] over {args.rounds} interleaved rounds of {args.steps} steps")
    print(f"(a) model only (random input):        {spread(rates['model'], 1):>22}")
    print(f"(b) end to end, clip store:           {spread(rates['store'], 1):>22}   (b)/(a) = "
          f"{ratio_spread(rates['store'], rates['model'])}")
    print(f"(c) end to end, mp4 files:            {spread(rates['files'], 1):>22}   (c)/(a) = "
          f"{ratio_spread(rates['files'], rates['model'])}")
    print(f"    loader only, clip store:          {spread(rates['store loader only'], 1):>22}")
    print(f"    loader only, mp4 files:           {spread(rates['files loader only'], 1):>22}")

if __name__ == "__main__":
    main()
