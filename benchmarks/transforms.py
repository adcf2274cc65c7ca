"""Training augmentation per clip, before (frame by frame above 1 MB) against whole-clip, timed A B A B."""

# Both pipelines (build_train_transform's recipe; the old one from benchmarks/frame_transforms.py) transform the same
# clips with the same seeded draws, so they compute the same outputs (checked first), on one thread as in a loader
# worker; ms per clip and the speed-up (old / new time per round) as median [min–max] over rounds.
#     .venv/bin/python benchmarks/transforms.py [--clips 16] [--rounds 5]

from __future__ import annotations

import argparse

import torch

from frame_transforms import reference_train_transform
from timing import interleaved_seconds, ratio_spread, spread
from vssl.data.transforms import build_train_transform

# name: (frames, source height, source width, short side range, crop, build_train_transform options)
GEOMETRIES = {
    "demo 8×32² (world32 recipe, no blur)": (8, 32, 32, (32, 40), 32, {"blur": False}),
    "benchmarks/loader.py 8×56²": (8, 64, 64, (60, 72), 56, {}),
    "8×112²": (8, 128, 171, (128, 160), 112, {}),
    "16×112²": (16, 128, 171, (128, 160), 112, {}),
    "8×224² (Feichtenhofer et al. 2021 §A.2 crop)": (8, 256, 341, (256, 320), 224, {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16, help="clips per round and geometry")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    for name, (frames, height, width, short_side, crop, options) in GEOMETRIES.items():
        clips = torch.rand(args.clips, 3, frames, height, width, generator=torch.Generator().manual_seed(0))
        pipelines = {"before": reference_train_transform(crop, short_side, **options),
                     "whole-clip": build_train_transform(crop, short_side, **options)}

        def run(pipeline):
            generator = torch.Generator().manual_seed(0)
            return [pipeline(clip, generator) for clip in clips]

        for old, new in zip(run(pipelines["before"]), run(pipelines["whole-clip"])):
            torch.testing.assert_close(new, old, atol=1e-6, rtol=1e-5)
        times = interleaved_seconds({key: (lambda p=p: run(p)) for key, p in pipelines.items()}, args.rounds)
        per_clip = {key: [1e3 * t / args.clips for t in values] for key, values in times.items()}
        print(f"{name}: before {spread(per_clip['before'])} ms/clip, whole-clip {spread(per_clip['whole-clip'])} "
              f"ms/clip, speed-up {ratio_spread(times['before'], times['whole-clip'])}×", flush=True)


if __name__ == "__main__":
    main()
