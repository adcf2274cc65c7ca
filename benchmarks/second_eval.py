"""A second, identical `vssl eval knn,linear` (warm feature cache) against the first (cold cache), as whole processes.

Each round deletes the feature cache, then runs the first and the second `vssl eval` as subprocesses (after one
untimed round; `benchmarks/timing.py`). Printed as median [min–max] over the rounds:
  whole process    wall time of each process and the ratio first / second (goal ≥ 4×);
  in process       the features + protocols phases of each run's `time:` line and their ratio (goal ≥ 10×).
By default it writes the micro synthetic set of the tests (48 videos, 32², a tiny R3D, as `tests/conftest.py`),
where both processes are mostly `import torch`; ``--manifest`` evaluates another manifest with ``--preset`` (default
synthetic_tiny), e.g. the `tiny` set of `vssl data synth --preset tiny --out data/tiny`, where a first run extracts
features for about 10 s on 2 cores.

    .venv/bin/python benchmarks/second_eval.py [--manifest data/tiny/manifest.csv] [--preset synthetic_tiny]
        [--rounds 3] [OVERRIDE ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import interleaved_seconds, ratio_spread, spread
from vssl.app.eval_timing import parse_line
from vssl.data.synthetic import SynthConfig, generate

MICRO = SynthConfig(name="micro", size=32, num_frames=24, fps=8.0,  # tests/conftest.py's MICRO
                    counts={"pretrain": 16, "train": 16, "test": 16},
                    motion_classes=("horizontal", "vertical"), appearance_classes=("disk", "square"))
MICRO_EVAL = ["data.labels=[motion,appearance]", "data.clip_len=4", "data.stride=2", "data.num_clips=2",
              "data.crop_size=24", "data.short_side=24", "data.num_workers=0", "data.batch_size=16",
              "linear.epochs=3", "encoder.width=0.125", "encoder.depth=[1,1,1,1]"]  # tests/conftest.py's eval


def eval_command(work: Path, manifest: str, preset: str | None, overrides: list[str]) -> list[str]:
    preset_words = [preset] if preset else []
    return [sys.executable, "-m", "vssl.app.cli", "eval", "knn,linear", *preset_words, f"data.manifest={manifest}",
            f"store={work / 'results.sqlite'}", f"feature_cache={work / 'feature_cache'}", "progress=false",
            *overrides]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", help="evaluate this manifest (default: write the micro synthetic set)")
    parser.add_argument("--preset", default="synthetic_tiny", help="eval preset with --manifest")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="more `vssl eval` overrides, e.g. data.num_workers=0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="second_eval_") as folder:
        work = Path(folder)
        if args.manifest:
            manifest, preset, overrides = args.manifest, args.preset, args.overrides
        else:
            manifest = str(generate(work / "micro", preset=MICRO, seed=0, workers=1, progress=False))
            preset, overrides = None, [*MICRO_EVAL, *args.overrides]
        command = eval_command(work, manifest, preset, overrides)
        phases: dict[str, list[dict[str, float]]] = {"first": [], "second": []}

        def run(name: str) -> None:
            if name == "first":
                shutil.rmtree(work / "feature_cache", ignore_errors=True)
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            phases[name].append(parse_line(out))

        print(" ".join(command[1:]))
        times = interleaved_seconds({name: lambda name=name: run(name) for name in phases}, args.rounds)
        timed = {name: runs[-args.rounds:] for name, runs in phases.items()}  # the untimed round's left out
        if any(p["hits"] for p in timed["first"]) or any(p["misses"] for p in timed["second"]):
            raise SystemExit("the first runs must miss the feature cache and the second ones hit it")
        work_seconds = {name: [p["features"] + p["protocols"] for p in runs] for name, runs in timed.items()}
        print(f"{args.rounds} rounds, median [min–max]")
        for name in phases:
            print(f"  {name:<6} process {spread(times[name])} s, features + protocols {spread(work_seconds[name], 3)} s"
                  f" (features {spread([p['features'] for p in timed[name]], 3)} s)")
        print(f"whole process  first / second: {ratio_spread(times['first'], times['second'])}×  (goal ≥ 4×)")
        print(f"in process     first / second: {ratio_spread(work_seconds['first'], work_seconds['second'], 1)}×"
              f"  (features + protocols; goal ≥ 10×)")


if __name__ == "__main__":
    main()
